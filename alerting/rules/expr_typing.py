"""Type rules of the condition language (pure functions over ``T``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from alerting.rules.expr_gen import V, is_lit
from alerting.rules.expr_types import Function, T

_M, _N, _D, _TM, _S = T.MONEY, T.NUMBER, T.DURATION, T.TIME, T.STR
_ARITH: dict[tuple[str, T, T], T] = {
    ("+", _M, _M): _M, ("-", _M, _M): _M, ("%", _M, _M): _M,
    ("*", _M, _N): _M, ("*", _N, _M): _M, ("/", _M, _N): _M, ("/", _M, _M): _N,
    ("+", _N, _N): _N, ("-", _N, _N): _N, ("*", _N, _N): _N, ("/", _N, _N): _N,
    ("%", _N, _N): _N,
    ("+", _TM, _D): _TM, ("+", _D, _TM): _TM, ("-", _TM, _D): _TM, ("-", _TM, _TM): _D,
    ("+", _D, _D): _D, ("-", _D, _D): _D, ("%", _D, _D): _D, ("*", _D, _N): _D,
    ("*", _N, _D): _D, ("/", _D, _N): _D, ("/", _D, _D): _N,
    ("+", _S, _S): _S,
}
_ORDERED = frozenset({_M, _N, _D, _TM, _S})
POLY_TYPES = {
    "abs": frozenset({_M, _N, _D, T.ANY}),
    "min": frozenset({_M, _N, _D, _TM, _S, T.ANY}),
    "max": frozenset({_M, _N, _D, _TM, _S, T.ANY}),
}


def arith_type(op: str, left: T, right: T) -> T | None:
    """Result type of ``left op right``, or None when the operation is not allowed."""
    if T.NULL in (left, right):
        return None
    if T.ANY in (left, right):
        return T.ANY
    return _ARITH.get((op, left, right))


def compare_ok(op: str, left: T, right: T) -> str | None:
    """None when ``left op right`` is allowed, else the reason."""
    if T.ANY in (left, right):
        return None
    if op in ("==", "!="):
        if T.NULL in (left, right) or left is right:
            return None
        return f"cannot compare {left.value} with {right.value}"
    if T.NULL in (left, right):
        return f"'{op}' with null is never true; test absence with == null or != null"
    if left is not right:
        hint = ""
        if T.DURATION in (left, right):
            hint = "; write durations as days(n), hours(n) or minutes(n)"
        return f"cannot compare {left.value} with {right.value}{hint}"
    if left not in _ORDERED:
        return f"'{op}' is not defined for {left.value}"
    return None


def unify(args: list[V], to_money: Callable[[V], V | None]) -> tuple[T | None, list[V]]:
    """Arguments of a polymorphic function share one type (number literals join money)."""
    types = {a.type for a in args} - {T.NULL, T.ANY}
    if T.MONEY in types:
        args = [(to_money(a) or a) if a.type is T.NUMBER and is_lit(a) else a for a in args]
        types = {a.type for a in args} - {T.NULL, T.ANY}
    if len(types) > 1:
        return None, args
    return (types.pop() if types else T.ANY), args


def check_arg(func: Function, i: int, arg: V, to_money: Callable[[V], V],
              err: Callable[[str], NoReturn]) -> V:
    """Check (and for money parameters, scale) argument ``i`` of ``func``."""
    param = func.params[min(i, len(func.params) - 1)]
    if param is T.ANY or arg.type in (T.ANY, T.NULL, param):
        return arg
    if param is T.MONEY and arg.type is T.NUMBER:
        return to_money(arg)
    err(f"argument {i + 1} of {func.name}() must be {param.value}, got {arg.type.value}")
