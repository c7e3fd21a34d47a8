"""Builtin functions of the condition language. Every one is null-safe: a null argument gives
null (``contains``/``startswith``/``endswith`` give false) instead of raising, so a condition
over an optional field never crashes a worker."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from alerting.errors import AlertingError
from alerting.money import parse_money
from alerting.rules.expr_types import Function, T
from alerting.timeutil import DAY, HOUR, MINUTE


def _abs(x: Any) -> Any:
    try:
        return None if x is None else abs(x)
    except TypeError:  # an ANY-typed field holding text
        return None


def _min(*xs: Any) -> Any:
    try:
        return None if any(x is None for x in xs) else min(xs)
    except TypeError:
        return None


def _max(*xs: Any) -> Any:
    try:
        return None if any(x is None for x in xs) else max(xs)
    except TypeError:
        return None


def _coalesce(*xs: Any) -> Any:
    for x in xs:
        if x is not None:
            return x
    return None


def _lower(s: Any) -> Any:
    return s.lower() if isinstance(s, str) else None


def _upper(s: Any) -> Any:
    return s.upper() if isinstance(s, str) else None


def _len(x: Any) -> Any:
    return len(x) if isinstance(x, str | list | tuple | frozenset | set) else None


def safe_contains(hay: Any, needle: Any) -> bool:
    """Substring or membership test that is false (never raising) for null or mismatched
    operands."""
    if hay is None or needle is None:
        return False
    if isinstance(hay, str):
        return isinstance(needle, str) and needle in hay
    try:
        return needle in hay
    except TypeError:
        return False


def _startswith(s: Any, prefix: Any) -> bool:
    return isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix)


def _endswith(s: Any, suffix: Any) -> bool:
    return isinstance(s, str) and isinstance(suffix, str) and s.endswith(suffix)


def _exact(n: Any) -> Fraction | None:
    if n is None or isinstance(n, bool):
        return None
    if isinstance(n, float):
        return Fraction(repr(n))  # shortest repr: days(0.1) is a tenth of a day, exactly
    return Fraction(n)


def _unit(ms: int) -> Any:
    def convert(n: Any) -> int | None:
        f = _exact(n)
        return None if f is None else round(f * ms)

    return convert


def _money(s: Any) -> int | None:
    """Major units (decimal string or number) to cents; null when unparsable."""
    if s is None:
        return None
    try:
        return parse_money(s)
    except AlertingError:
        return None


def _f(name: str, params: tuple[T, ...], returns: T, impl: Any, **kw: bool) -> Function:
    return Function(name, params, returns, impl, **kw)


BUILTINS: dict[str, Function] = {
    f.name: f
    for f in (
        _f("abs", (T.ANY,), T.ANY, _abs, pure=True, poly=True),
        _f("min", (T.ANY, T.ANY), T.ANY, _min, pure=True, poly=True, variadic=True),
        _f("max", (T.ANY, T.ANY), T.ANY, _max, pure=True, poly=True, variadic=True),
        _f("coalesce", (T.ANY, T.ANY), T.ANY, _coalesce, pure=True, poly=True, variadic=True),
        _f("lower", (T.STR,), T.STR, _lower, pure=True),
        _f("upper", (T.STR,), T.STR, _upper, pure=True),
        _f("len", (T.ANY,), T.NUMBER, _len, pure=True),
        _f("contains", (T.ANY, T.ANY), T.BOOL, safe_contains, pure=True),
        _f("startswith", (T.STR, T.STR), T.BOOL, _startswith, pure=True),
        _f("endswith", (T.STR, T.STR), T.BOOL, _endswith, pure=True),
        _f("days", (T.NUMBER,), T.DURATION, _unit(DAY), pure=True),
        _f("hours", (T.NUMBER,), T.DURATION, _unit(HOUR), pure=True),
        _f("minutes", (T.NUMBER,), T.DURATION, _unit(MINUTE), pure=True),
        _f("money", (T.STR,), T.MONEY, _money, pure=True),
    )
}
