"""Exact money. The engine holds amounts as integer minor units (cents, 分); never floats.

All supported currencies use two decimal places (CNY, CZK, USD, EUR…).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from alerting.errors import BadEvent

SCALE = 100
MAX_DIGITS = 40  # characters of a money string: 10^37 is far above any real amount
_DSCALE = Decimal(SCALE)


def to_cents(value: Any, *, field: str = "amount", allow_zero: bool = False,
             allow_negative: bool = False) -> int:
    """Convert a decimal string, int or finite float from the wire to integer cents, exactly.

    Rejects (``BadEvent``) non-numbers, NaN/inf, more than two decimals, and values that are
    not > 0 unless allowed. Floats are converted through their shortest repr, so 0.1 is 10.
    """
    if type(value) is str:
        if len(value) > MAX_DIGITS:
            # int() refuses strings over 4,300 digits (ValueError): no amount is near this
            raise BadEvent(f"bad_{field}", f"{field} has more than {MAX_DIGITS} characters")
        if len(value) > 3 and value[-3] == ".":
            # the wire's most usual form, "1234.56": the digits without the dot are the cents
            # (removing the first dot only: all digits left means it was the one at [-3])
            digits = value.replace(".", "", 1)
            if digits.isascii() and digits.isdigit():
                cents = int(digits)
                if cents > 0 or (cents == 0 and allow_zero):
                    return cents
        # Fast path for the wire's usual plain decimals ("1234.5", "1234.56"): plain integer
        # arithmetic, same result as the Decimal path below, which handles everything else.
        whole, dot, frac = value.partition(".")
        if whole.isascii() and whole.isdigit() and (
                not dot or (0 < len(frac) <= 2 and frac.isascii() and frac.isdigit())):
            cents = int(whole) * SCALE + (int(frac) * (10 if len(frac) == 1 else 1) if dot else 0)
            if cents > 0 or (cents == 0 and allow_zero):
                return cents
    if isinstance(value, bool):
        raise BadEvent(f"bad_{field}", f"{field} must be a number, not a boolean")
    if isinstance(value, int):
        cents = value * SCALE
    else:
        if isinstance(value, float):
            value = repr(value)
        if not isinstance(value, str):
            raise BadEvent(f"bad_{field}", f"{field} must be a decimal string or number")
        try:
            d = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            raise BadEvent(f"bad_{field}", f"{field} is not a decimal number") from None
        if not d.is_finite():
            raise BadEvent(f"bad_{field}", f"{field} must be finite")
        scaled = d * _DSCALE
        if scaled != scaled.to_integral_value():
            raise BadEvent(f"bad_{field}", f"{field} has more than two decimal places")
        cents = int(scaled)
    if cents < 0 and not allow_negative:
        raise BadEvent(f"bad_{field}", f"{field} must not be negative")
    if cents == 0 and not allow_zero:
        raise BadEvent(f"bad_{field}", f"{field} must be > 0")
    return cents


def parse_money(value: Any) -> int:
    """Money from configuration (rules.yaml, CSV): like ``to_cents`` but zero is allowed."""
    return to_cents(value, field="money", allow_zero=True)


def format_money(cents: int | Decimal) -> str:
    """Render cents as a plain decimal string with two places: 123456 -> '1234.56'."""
    if isinstance(cents, Decimal):
        # Fractional cents (from a ratio) round half-up, as a bank statement would.
        return str((cents / _DSCALE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    sign = "-" if cents < 0 else ""
    q, r = divmod(abs(cents), SCALE)
    return f"{sign}{q}.{r:02d}"


def format_money_grouped(cents: int | Decimal) -> str:
    """Human rendering with thousands separators: 123456789 -> '1,234,567.89'."""
    s = format_money(cents)
    whole, _, frac = s.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    return f"{sign}{int(whole):,}.{frac}"
