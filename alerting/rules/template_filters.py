"""Filters of the task templates (see ``alerting.rules.templates``). Each one is total: a
missing value renders empty and an unusable one renders as plain text, never raising."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from alerting.money import format_money, format_money_grouped
from alerting.timeutil import DAY, to_datetime, tz_of


def _blank(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def _decimal(value: Any) -> Decimal | None:
    """An exact Decimal for numbers (Fractions to 28 significant digits); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, float):
        return Decimal(repr(value))
    return None


def _cents(value: Any) -> int | Decimal | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):  # evidence carries major units as decimal strings
        try:
            major = Decimal(value.strip())
        except InvalidOperation:
            return None
        return major * 100 if major.is_finite() else None
    d = _decimal(value)
    return d if d is not None and d.is_finite() else None


def money(value: Any) -> str:
    """Cents (int/Decimal/Fraction) or a major-unit string → "1,234,567.89"."""
    if _blank(value):
        return ""
    cents = _cents(value)
    return str(value) if cents is None else format_money_grouped(cents)


def money_plain(value: Any) -> str:
    """Like ``money`` without thousands separators: "1234567.89"."""
    if _blank(value):
        return ""
    cents = _cents(value)
    return str(value) if cents is None else format_money(cents)


def pct(value: Any, digits: int = 1) -> str:
    """A ratio as a percentage: 0.512 → "51.2%"."""
    if _blank(value):
        return ""
    d = _decimal(value)
    if d is None or not d.is_finite():
        return str(value)
    digits = max(0, min(int(digits), 6))
    q = (d * 100).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{q}%"


def days(value: Any) -> str:
    """Milliseconds → days with one decimal: 90.5 days → "90.5"."""
    if _blank(value):
        return ""
    d = _decimal(value)
    if d is None or not d.is_finite():
        return str(value)
    return str((d / DAY).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _offset(ctx: Context, tz: Any) -> int | None:
    for candidate in (tz, ctx.get("tz")):
        if isinstance(candidate, int) and not isinstance(candidate, bool) \
                and -1440 < candidate < 1440:
            return candidate
    return None


def _local(ctx: Context, value: Any, tz: Any) -> datetime | None:
    explicit = tz if isinstance(tz, int) and not isinstance(tz, bool) else None
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return to_datetime(value, _offset(ctx, tz) or 0)
        if isinstance(value, str):
            value = datetime.fromisoformat(value.strip())
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return value
            if explicit is None:
                return value  # an ISO timestamp keeps its own offset
            return value.astimezone(tz_of(explicit))
    except (ValueError, OverflowError):
        return None
    return None


def _time_filter(fmt: str) -> Callable[..., str]:
    @pass_context
    def render(ctx: Context, value: Any, tz: Any = None) -> str:
        if _blank(value):
            return ""
        dt = _local(ctx, value, tz)
        return str(value) if dt is None else dt.strftime(fmt)

    return render


def mask(value: Any) -> str:
    """Hide personal data: account numbers keep the first and last four digits, short numbers
    the last two, names (each word) the first character: "张三" → "张*"."""
    if _blank(value):
        return ""
    s = str(value).strip()
    compact = s.replace(" ", "").replace("-", "")
    if compact.isdigit():
        if len(compact) >= 8:
            return compact[:4] + "*" * (len(compact) - 8) + compact[-4:]
        keep = 2 if len(compact) > 2 else 0
        return "*" * (len(compact) - keep) + compact[len(compact) - keep:]
    return " ".join(w[0] + "*" * (len(w) - 1) if len(w) > 1 else "*" for w in s.split())


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "money_plain": money_plain,
    "pct": pct,
    "days": days,
    "date": _time_filter("%Y-%m-%d"),
    "datetime": _time_filter("%Y-%m-%d %H:%M"),
    "mask": mask,
}
