"""Code generation for the condition language: builds a new Python AST over the local names
``e``, ``c``, ``a`` (event, customer, agg) with null guards, and compiles it once.

The generated module sees no builtins; every helper and non-trivial constant is bound as a
closure variable of a factory function, so evaluation runs at the speed of hand-written code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from alerting.rules.expr_types import T

_NOLIT: Any = object()
_CMP = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE}
_BIN = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult}


@dataclass(frozen=True, slots=True)
class V:
    """A typed value during compilation: generated code, or a compile-time literal."""

    type: T
    node: ast.expr | None = None
    lit: Any = _NOLIT
    strict: bool = True  # evaluates to a real bool (not a possibly-null field)
    elem: T | None = None  # element type of a list literal
    scaled: tuple[V, int, int] | None = None  # this value is operand * p / q (q > 0)


def is_lit(v: V) -> bool:
    """True when ``v`` is known at compile time."""
    return v.lit is not _NOLIT


def norm_number(x: Any) -> Any:
    """Integral Fractions become ints (faster to compare, nicer to show)."""
    if isinstance(x, Fraction) and x.denominator == 1:
        return x.numerator
    return x


def _div(a: Any, b: Any) -> Any:
    if a is None or b is None or not b:
        return None
    try:
        if isinstance(a, float) or isinstance(b, float):
            return a / b
        return norm_number(Fraction(a) / Fraction(b))
    except (TypeError, ValueError):  # an ANY operand holding text
        return None


def _scale(x: Any, p: int, q: int) -> Any:
    """``x * p / q`` exactly (q > 0), without building a Fraction when the result is whole:
    ``0.5 * customer.assets`` on even cents stays an int and costs two integer operations."""
    if x is None:
        return None
    if type(x) is int:
        n = x * p
        return n // q if n % q == 0 else Fraction(n, q)
    if isinstance(x, float):
        return x * p / q
    try:
        return norm_number(Fraction(x) * p / q)
    except (TypeError, ValueError):  # an ANY operand holding text
        return None


_PY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "+": operator.add, "-": operator.sub, "*": operator.mul,
}


def _any_op(op: Callable[[Any, Any], Any], a: Any, b: Any, fallback: Any) -> Any:
    """An operation on an ANY-typed operand, whose runtime type is unknown: a null operand
    or a type mismatch (``"a" < 1``) gives ``fallback`` (False for ordering, None for
    arithmetic) instead of raising."""
    if a is None or b is None:
        return fallback
    try:
        return op(a, b)
    except TypeError:
        return fallback


def _mod(a: Any, b: Any) -> Any:
    if a is None or b is None or isinstance(a, str | bytes) or not b:
        return None
    try:
        return norm_number(a % b)
    except (TypeError, ValueError):
        return None


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _args(names: list[str], defaults: int = 0) -> ast.arguments:
    return ast.arguments(
        posonlyargs=[], args=[ast.arg(n) for n in names], vararg=None, kwonlyargs=[],
        kw_defaults=[], kwarg=None, defaults=[ast.Constant(None)] * defaults,
    )


class Gen:
    """Emits guarded Python AST and binds helper values as closure variables."""

    def __init__(self) -> None:
        self.consts: dict[str, Any] = {}
        self._by_id: dict[int, str] = {}
        self._ntemp = 0

    def bind(self, value: Any, hint: str) -> ast.Name:
        """A closure variable holding ``value`` (deduplicated for functions)."""
        key = id(value) if callable(value) else None
        if key is not None and key in self._by_id:
            return _load(self._by_id[key])
        name = hint if hint not in self.consts else f"{hint}_{len(self.consts)}"
        if name == "_k":
            name = f"_k{len(self.consts)}"
        self.consts[name] = value
        if key is not None:
            self._by_id[key] = name
        return _load(name)

    def emit(self, v: V) -> ast.expr:
        if v.node is not None:
            return v.node
        x = norm_number(v.lit)
        if x is None or isinstance(x, bool | int | str):
            return ast.Constant(x)
        return self.bind(x, "_k")

    def truth(self, v: V) -> ast.expr:
        """A real bool: a null or non-``True`` value counts as false."""
        if is_lit(v):
            return ast.Constant(v.lit is True)
        if v.strict and v.type is T.BOOL:
            return self.emit(v)
        return ast.Compare(self.emit(v), [ast.Is()], [ast.Constant(True)])

    def _guard(self, vals: list[V]) -> tuple[list[ast.expr], list[ast.expr]]:
        """Null checks (``(_t := x) is not None``) for the non-literal operands."""
        checks: list[ast.expr] = []
        uses: list[ast.expr] = []
        for v in vals:
            if is_lit(v):
                uses.append(self.emit(v))
                continue
            t = f"_t{self._ntemp}"
            self._ntemp += 1
            walrus = ast.NamedExpr(ast.Name(t, ast.Store()), self.emit(v))
            checks.append(ast.Compare(walrus, [ast.IsNot()], [ast.Constant(None)]))
            uses.append(_load(t))
        return checks, uses

    def field(self, var: str, attr: str, *, guard: bool) -> ast.expr:
        node = ast.Attribute(_load(var), attr, ast.Load())
        if not guard:
            return node
        test = ast.Compare(_load(var), [ast.Is()], [ast.Constant(None)])
        return ast.IfExp(test, ast.Constant(None), node)

    def compare(self, op: str, left: V, right: V) -> ast.expr:
        if op in ("==", "!="):
            return ast.Compare(self.emit(left), [_CMP[op]()], [self.emit(right)])
        if T.ANY in (left.type, right.type):
            return self._any(op, left, right, False)
        if left.scaled or right.scaled:
            return self._cross_compare(op, left, right)
        checks, (lu, ru) = self._guard([left, right])
        cmp = ast.Compare(lu, [_CMP[op]()], [ru])
        return ast.BoolOp(ast.And(), [*checks, cmp]) if checks else cmp

    def _cross_compare(self, op: str, left: V, right: V) -> ast.expr:
        """``a*p1/q1 < b*p2/q2`` as ``a*(p1*q2) < b*(p2*q1)``: exact, and integer-only for
        integer operands (``x >= customer.assets / 3`` builds no Fraction)."""
        a, p1, q1 = left.scaled or (left, 1, 1)
        b, p2, q2 = right.scaled or (right, 1, 1)
        checks, (au, bu) = self._guard([a, b])
        lhs, rhs = self._times(au, a, p1 * q2), self._times(bu, b, p2 * q1)
        cmp = ast.Compare(lhs, [_CMP[op]()], [rhs])
        return ast.BoolOp(ast.And(), [*checks, cmp]) if checks else cmp

    def _times(self, node: ast.expr, v: V, k: int) -> ast.expr:
        if is_lit(v):
            return self.emit(V(v.type, lit=Fraction(v.lit) * k))
        return node if k == 1 else ast.BinOp(node, ast.Mult(), ast.Constant(k))

    def member(self, left: V, container: Any, negate: bool) -> ast.expr:
        op: ast.cmpop = ast.NotIn() if negate else ast.In()
        return ast.Compare(self.emit(left), [op], [self.bind(container, "_k")])

    def _any(self, op: str, left: V, right: V, fallback: Any) -> ast.expr:
        args = [self.bind(_PY_OPS[op], f"_op{len(self.consts)}"), self.emit(left),
                self.emit(right), ast.Constant(fallback)]
        return ast.Call(self.bind(_any_op, "_any_op"), args, [])

    def arith(self, op: str, left: V, right: V) -> ast.expr:
        if op in "+-*" and T.ANY in (left.type, right.type):
            return self._any(op, left, right, None)
        factor = self.factor(op, left, right)
        if factor is not None:
            operand, k = factor
            args = [self.emit(operand), ast.Constant(k.numerator), ast.Constant(k.denominator)]
            return ast.Call(self.bind(_scale, "_scale"), args, [])
        if op in ("/", "%"):
            helper = self.bind(_div if op == "/" else _mod, "_div" if op == "/" else "_mod")
            return ast.Call(helper, [self.emit(left), self.emit(right)], [])
        checks, (lu, ru) = self._guard([left, right])
        expr = ast.BinOp(lu, _BIN[op](), ru)
        return self._if_not_null(checks, expr)

    @staticmethod
    def factor(op: str, left: V, right: V) -> tuple[V, Fraction] | None:
        """``x * 0.5``, ``0.5 * x`` or ``x / 3``: a non-literal times a literal fraction."""
        if op == "*":
            for a, b in ((left, right), (right, left)):
                if is_lit(b) and isinstance(b.lit, Fraction) and b.lit.denominator != 1:
                    return a, b.lit
        if op == "/" and is_lit(right) and isinstance(right.lit, Fraction) and right.lit:
            return left, 1 / right.lit
        return None

    def neg(self, v: V) -> ast.expr:
        if v.type is T.ANY:
            return self._any("-", V(T.NUMBER, lit=Fraction(0)), v, None)
        checks, (u,) = self._guard([v])
        return self._if_not_null(checks, ast.UnaryOp(ast.USub(), u))

    def _if_not_null(self, checks: list[ast.expr], expr: ast.expr) -> ast.expr:
        if not checks:
            return expr
        test = checks[0] if len(checks) == 1 else ast.BoolOp(ast.And(), checks)
        return ast.IfExp(test, expr, ast.Constant(None))

    def not_(self, v: V) -> ast.expr:
        return ast.UnaryOp(ast.Not(), self.truth(v))

    def boolop(self, is_and: bool, values: list[V]) -> ast.expr:
        op: ast.boolop = ast.And() if is_and else ast.Or()
        return ast.BoolOp(op, [self.truth(v) for v in values])

    def call(self, fn: ast.expr, args: list[V]) -> ast.expr:
        return ast.Call(fn, [self.emit(a) for a in args], [])

    def build(self, v: V) -> tuple[Callable[..., Any], str]:
        """Compile the final value into ``fn(e, c=None, a=None)``."""
        if v.type is T.BOOL:
            body = self.truth(v)
        elif v.type in (T.MONEY, T.NUMBER) and not is_lit(v):
            body = ast.Call(self.bind(norm_number, "_norm"), [self.emit(v)], [])
        else:
            body = self.emit(v)
        inner = ast.FunctionDef(
            name="_expr", args=_args(["e", "c", "a"], defaults=2), body=[ast.Return(body)],
            decorator_list=[], returns=None, type_comment=None,
        )
        names = sorted(self.consts)
        outer = ast.FunctionDef(
            name="_factory", args=_args(names), body=[inner, ast.Return(_load("_expr"))],
            decorator_list=[], returns=None, type_comment=None,
        )
        module = ast.fix_missing_locations(ast.Module(body=[outer], type_ignores=[]))
        code = compile(module, "<condition>", "exec")
        namespace: dict[str, Any] = {"__builtins__": {}}
        exec(code, namespace)  # our own generated AST only; see module docstring
        factory: Callable[..., Callable[..., Any]] = namespace["_factory"]
        return factory(**self.consts), ast.unparse(body)
