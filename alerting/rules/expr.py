"""The safe condition language of rules.yaml, compiled once into a plain Python function.

Syntax (a subset of Python expressions)::

    event.kind == "withdrawal" and event.amount >= tier_limit(customer)
    event.kind in ["withdrawal", "transfer_out"] and event.counterparty_bank != null
    event.amount >= 0.5 * customer.assets        agg.sum >= 500000 and agg.count >= 3
    not (event.amount < 1000)                     lower(event.category) contains "fee"
    event.ts - customer.last_activity_at >= days(90)

Operators: ``and or not``, ``== != < <= > >=`` (chains like ``1 < x <= 5`` work), ``in`` /
``not in`` a ``[list]``, infix ``contains`` (substring or list membership), ``+ - * / %``.
Literals: numbers, "strings", ``true false null`` (``none`` = ``null``), ``[lists of literals]``.
Names: ``root.field`` for fields the rule's schema declares, whitelisted function calls; a bare
root (``customer``) only as the argument of a function that takes ``any``.
Everything else (other attributes, dunders, subscripts, lambdas, comprehensions, ``**``,
keyword arguments, f-strings, ``is``...) is rejected at compile time with the column.

Money: a MONEY value is integer cents. A number *literal* meeting money in a comparison,
``+``/``-``/``%``, ``in [...]`` or a money parameter is in major units and scaled to cents at
compile time, exactly (``event.amount >= 200000`` compares with 20000000); more than two
decimals is an error. In ``*`` and ``/`` a number is a dimensionless factor: ``0.5 *
customer.assets`` is money, computed exactly with ``fractions.Fraction`` (never float). Money
against a computed (non-literal) number is a type error. A MONEY or NUMBER result is returned
as ``int`` when integral, else as an exact ``Fraction``.

Null semantics (predictable, never raising): any field may be null at runtime, and a missing
``customer``/``agg`` root reads as null fields. ``==``/``!=`` treat null as an ordinary value
(``x == null`` is the test for absence; ``null == null`` is true). An ordering comparison
(``< <= > >=``), ``in`` or ``contains`` with a null operand is **false**. Arithmetic with null
gives null, as does division by zero. Builtin functions return null for null input
(``contains``/``startswith``/``endswith`` return false). A null (or non-``true``) boolean
field counts as false in ``and``/``or``/``not``, so ``not (event.amount < 1000)`` is true
when the amount is null. The compiled function always returns a real bool for conditions.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any, NoReturn

from alerting.rules.expr_builtins import BUILTINS, safe_contains
from alerting.rules.expr_gen import Gen, V, is_lit, norm_number
from alerting.rules.expr_parse import (
    ARITH_OPS,
    CMP_OPS,
    FORBIDDEN,
    MAX_DEPTH,
    event_kinds,
    fail,
    parse,
)
from alerting.rules.expr_types import Compiled, Function, Schema, T
from alerting.rules.expr_typing import POLY_TYPES, arith_type, check_arg, compare_ok, unify

__all__ = ["BUILTINS", "Compiled", "Function", "Schema", "T", "compile_expr"]

MAX_INT = 10**18
_ROOT_VARS = {"event": "e", "customer": "c", "agg": "a"}
_LITERAL_NAMES = {"true": True, "false": False, "null": None, "none": None}


def compile_expr(
    source: str,
    schema: Schema,
    functions: Mapping[str, Function] | None = None,
    *,
    expect: T | None = T.BOOL,
) -> Compiled:
    """Compile a condition into ``Compiled`` (``fn(event, customer, agg)``).

    ``functions`` are added to (and may override) ``BUILTINS``. ``expect`` is the required
    result type (None: any); with ``expect=T.MONEY`` a bare number is taken as major units.
    Raises ``ExpressionError`` (message with the column; ``.col`` is 1-based).
    """
    for root in schema.roots:
        if root not in _ROOT_VARS:
            raise ValueError(f"schema root {root!r} is not one of {sorted(_ROOT_VARS)}")
    tree, text, lead = parse(source)
    checker = _Checker(source, text, lead, schema, {**BUILTINS, **(functions or {})})
    value = checker.visit(tree.body)
    value = checker.finish(value, expect, tree.body)
    fn, python = checker.gen.build(value)
    return Compiled(
        source=source,
        fn=fn,
        type=value.type,
        names=frozenset(checker.names),
        event_kinds=event_kinds(tree.body) if "event" in schema.roots else None,
        python=python,
    )


class _Checker:
    """Walks the whitelisted Python AST, type-checks it and emits code through ``Gen``."""

    def __init__(self, source: str, text: str, lead: int, schema: Schema,
                 functions: Mapping[str, Function]) -> None:
        self.source, self.text, self.lead = source, text, lead
        self.schema = schema
        self.functions = functions
        self.names: set[str] = set()
        self.gen = Gen()
        self.depth = 0

    # -- errors -------------------------------------------------------------------------
    def col(self, node: ast.AST) -> int:
        raw = self.text.encode()[: getattr(node, "col_offset", 0)]
        return self.lead + len(raw.decode("utf-8", "ignore")) + 1

    def err(self, message: str, node: ast.AST) -> NoReturn:
        fail(message, self.source, self.col(node))

    def suggest(self, word: str, choices: list[str]) -> str:
        close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
        if close:
            return f"; did you mean {close[0]}?"
        return f"; allowed: {', '.join(sorted(choices))}" if choices else ""

    # -- dispatch -------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> V:
        name = type(node).__name__
        method = getattr(self, f"v_{name}", None)
        if method is None:
            what = FORBIDDEN.get(name, f"'{name}' expressions")
            self.err(f"{what} not allowed in conditions", node)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.err(f"condition nested deeper than {MAX_DEPTH} levels", node)
        try:
            result: V = method(node)
        finally:
            self.depth -= 1
        return result

    def finish(self, v: V, expect: T | None, node: ast.expr) -> V:
        """Check the result type against ``expect`` and normalise the runtime value."""
        if expect is T.MONEY and v.type is T.NUMBER and is_lit(v):
            v = self.to_money(v, node)
        ok = expect is None or v.type in (expect, T.ANY)
        if not ok:
            want = "a condition (true/false)" if expect is T.BOOL else f"a {expect.value}"  # type: ignore[union-attr]
            self.err(f"expected {want}, got a {v.type.value} expression", node)
        if expect is T.BOOL and v.type is T.ANY:
            v = V(T.BOOL, node=self.gen.truth(v))
        return v

    # -- leaves -------------------------------------------------------------------------
    def v_Constant(self, node: ast.Constant) -> V:
        value = node.value
        if value is None or isinstance(value, bool):
            return V(T.NULL if value is None else T.BOOL, lit=value)
        if isinstance(value, str):
            return V(T.STR, lit=value)
        if isinstance(value, int | float):
            return V(T.NUMBER, lit=self.number(node))
        self.err(f"{type(value).__name__} literals are not allowed", node)

    def number(self, node: ast.Constant) -> Fraction:
        seg = (ast.get_source_segment(self.text, node) or repr(node.value)).replace("_", "")
        try:
            # Decimal first: Fraction("1e999999999") would build a gigantic integer
            d = Decimal(int(seg, 0)) if isinstance(node.value, int) else Decimal(seg)
        except (ValueError, ArithmeticError):
            self.err(f"bad number literal {seg[:30]}", node)
        if not d.is_finite() or (d and d.adjusted() > 18):
            self.err("number literal too large (limit 10**18)", node)
        if d and d.as_tuple().exponent < -18:  # type: ignore[operator]
            self.err("number literal has too many decimal places (limit 18)", node)
        value = Fraction(d)
        if abs(value) > MAX_INT:
            self.err("number literal too large (limit 10**18)", node)
        return value

    def v_Name(self, node: ast.Name) -> V:
        if node.id in _LITERAL_NAMES:
            value = _LITERAL_NAMES[node.id]
            return V(T.NULL if value is None else T.BOOL, lit=value)
        if node.id in self.schema.roots:
            self.err(f"'{node.id}' is a record; use one of its fields like {node.id}.<field>",
                     node)
        if node.id in self.functions:
            self.err(f"function '{node.id}' must be called: {node.id}(...)", node)
        if node.id.startswith("_"):
            self.err(f"name '{node.id}' is not allowed", node)
        choices = list(self.schema.roots) + list(_LITERAL_NAMES) + list(self.functions)
        self.err(f"unknown name {node.id[:60]}{self.suggest(node.id, choices)}", node)

    def v_Attribute(self, node: ast.Attribute) -> V:
        base = node.value
        if not isinstance(base, ast.Name) or base.id not in self.schema.roots:
            if isinstance(base, ast.Name) and not base.id.startswith("_") \
                    and base.id in _ROOT_VARS:
                self.err(f"'{base.id}' is not available in this rule", node)
            if isinstance(base, ast.Name):
                self.v_Name(base)
            self.err("attribute access is only allowed as <root>.<field> "
                     f"with root one of {', '.join(sorted(self.schema.roots))}", node)
        fields = self.schema.roots[base.id]
        full = f"{base.id}.{node.attr}"
        if node.attr.startswith("_"):
            self.err(f"attribute {full} is not allowed (names starting with '_' are private)",
                     node)
        if node.attr not in fields:
            hint = self.suggest(full, [f"{base.id}.{f}" for f in fields])
            self.err(f"unknown field {full[:80]}{hint}", node)
        self.names.add(full)
        ftype = fields[node.attr]
        code = self.gen.field(_ROOT_VARS[base.id], node.attr, guard=base.id != "event")
        return V(ftype, node=code, strict=False)

    def v_List(self, node: ast.List | ast.Tuple) -> V:
        items = [self.visit(x) for x in node.elts]
        for item, x in zip(items, node.elts, strict=True):
            if not is_lit(item):
                self.err("list elements must be literals", x)
        types = {i.type for i in items} - {T.NULL}
        if len(types) > 1:
            self.err("list elements must all have the same type", node)
        return V(T.LIST, lit=tuple(i.lit for i in items), elem=types.pop() if types else T.ANY)

    v_Tuple = v_List

    # -- operators ----------------------------------------------------------------------
    def to_money(self, v: V, node: ast.AST) -> V:
        """A number literal in major units becomes a money literal in cents."""
        if v.type is T.MONEY:
            return v
        if v.type is T.NUMBER and is_lit(v):
            cents = v.lit * 100
            if cents.denominator != 1:
                self.err("money literal has more than two decimal places", node)
            return V(T.MONEY, lit=cents)
        self.err(f"cannot mix money with a computed {v.type.value}; compare money with money "
                 "or with a number literal (major units)", node)

    def coerce(self, left: V, right: V, node: ast.AST) -> tuple[V, V]:
        if left.type is T.MONEY and right.type is T.NUMBER:
            right = self.to_money(right, node)
        elif right.type is T.MONEY and left.type is T.NUMBER:
            left = self.to_money(left, node)
        return left, right

    def v_BinOp(self, node: ast.BinOp) -> V:
        op = ARITH_OPS.get(type(node.op))
        if op is None:
            self.err(f"operator {type(node.op).__name__} is not allowed", node)
        left, right = self.visit(node.left), self.visit(node.right)
        if op in "+-%":
            left, right = self.coerce(left, right, node)
        result = arith_type(op, left.type, right.type)
        if result is None:
            self.err(f"cannot apply '{op}' to {left.type.value} and {right.type.value}", node)
        if op in "/%" and is_lit(right) and right.lit == 0:
            self.err("division by zero", node)
        if is_lit(left) and is_lit(right) and left.type is not T.NULL:
            return V(result, lit=self.fold(op, left.lit, right.lit, node))
        factor = self.gen.factor(op, left, right)
        scaled = (factor[0], factor[1].numerator, factor[1].denominator) if factor else None
        return V(result, node=self.gen.arith(op, left, right), scaled=scaled)

    def fold(self, op: str, a: Any, b: Any, node: ast.AST) -> Any:
        if isinstance(a, str):
            if len(a) + len(b) > 1000:
                self.err("string literal too long", node)
            return a + b
        value: Fraction
        if op == "+":
            value = a + b
        elif op == "-":
            value = a - b
        elif op == "*":
            value = a * b
        elif op == "/":
            value = Fraction(a) / b
        else:
            value = a % b
        if abs(value) > MAX_INT * MAX_INT:
            self.err("number too large", node)
        return value

    def v_UnaryOp(self, node: ast.UnaryOp) -> V:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            if operand.type not in (T.BOOL, T.ANY):
                self.err(f"'not' needs a condition, got {operand.type.value}", node)
            if is_lit(operand):
                return V(T.BOOL, lit=not operand.lit)
            return V(T.BOOL, node=self.gen.not_(operand))
        if isinstance(node.op, ast.UAdd | ast.USub):
            if operand.type not in (T.NUMBER, T.MONEY, T.DURATION, T.ANY):
                self.err(f"unary minus needs a number, got {operand.type.value}", node)
            neg = isinstance(node.op, ast.USub)
            if is_lit(operand):
                return V(operand.type, lit=-operand.lit if neg else operand.lit)
            return V(operand.type, node=self.gen.neg(operand) if neg else operand.node)
        self.err("'~' is not allowed", node)

    def v_BoolOp(self, node: ast.BoolOp) -> V:
        values = [self.visit(x) for x in node.values]
        for v, x in zip(values, node.values, strict=True):
            if v.type not in (T.BOOL, T.ANY):
                self.err(f"'and'/'or' need conditions, got a {v.type.value}", x)
        return V(T.BOOL, node=self.gen.boolop(isinstance(node.op, ast.And), values))

    def v_Compare(self, node: ast.Compare) -> V:
        parts: list[V] = []
        left = self.visit(node.left)
        for op_node, right_node in zip(node.ops, node.comparators, strict=True):
            op = CMP_OPS.get(type(op_node))
            if op is None:
                self.err(f"operator {type(op_node).__name__} is not allowed", op_node)
            right = self.visit(right_node)
            parts.append(self.compare(op, left, right, right_node))
            left = right  # a < b < c is (a < b) and (b < c)
        if len(parts) == 1:
            return parts[0]
        return V(T.BOOL, node=self.gen.boolop(True, parts))

    def compare(self, op: str, left: V, right: V, node: ast.AST) -> V:
        if op in ("in", "not in"):
            return self.membership(op == "not in", left, right, node)
        if op == "contains":
            if left.type not in (T.STR, T.LIST, T.ANY) or (
                    left.type is T.STR and right.type not in (T.STR, T.ANY)):
                self.err(f"cannot use 'contains' on {left.type.value} and "
                         f"{right.type.value}", node)
            fn = self.gen.bind(safe_contains, "safe_contains")
            return V(T.BOOL, node=self.gen.call(fn, [left, right]))
        left, right = self.coerce(left, right, node)
        problem = compare_ok(op, left.type, right.type)
        if problem:
            self.err(problem, node)
        return V(T.BOOL, node=self.gen.compare(op, left, right))

    def membership(self, negate: bool, left: V, right: V, node: ast.AST) -> V:
        if right.type not in (T.LIST, T.ANY):
            self.err(f"'in' needs a [list] on the right, got a {right.type.value}; "
                     "use 'contains' for text", node)
        if left.type is T.LIST:
            self.err("the left side of 'in' cannot be a list", node)
        if is_lit(right):
            items = [self.coerce(left, V(right.elem or T.ANY, lit=x), node)[1]
                     if x is not None else V(T.NULL, lit=None) for x in right.lit]
            for item in items:
                if item.type is not T.NULL and compare_ok("==", left.type, item.type):
                    self.err(f"list of {item.type.value} cannot contain a "
                             f"{left.type.value}", node)
            values = [norm_number(i.lit) for i in items]
            container: Any = frozenset(values) if left.type is not T.ANY else tuple(values)
            return V(T.BOOL, node=self.gen.member(left, container, negate))
        fn = self.gen.bind(safe_contains, "safe_contains")
        test = V(T.BOOL, node=self.gen.call(fn, [right, left]))
        return V(T.BOOL, node=self.gen.not_(test)) if negate else test

    # -- calls --------------------------------------------------------------------------
    def v_Call(self, node: ast.Call) -> V:
        if not isinstance(node.func, ast.Name):
            self.err("only calls of whitelisted functions like lower(x) are allowed "
                     "(no method calls)", node)
        name = node.func.id
        func = self.functions.get(name)
        if func is None or name.startswith("_"):
            self.err(f"unknown function {name[:60]}{self.suggest(name, list(self.functions))}",
                     node)
        if node.keywords:
            self.err(f"keyword arguments are not allowed in {name}(...)", node)
        for a in node.args:
            if isinstance(a, ast.Starred):
                self.err("'*' unpacking is not allowed", a)
        n, want = len(node.args), len(func.params)
        if n < want or (n > want and not func.variadic):
            more = " or more" if func.variadic else ""
            self.err(f"{name}() takes {want}{more} argument(s), got {n}", node)
        args = [self.argument(func, i, a) for i, a in enumerate(node.args)]
        result, args = self.check_args(func, args, node)
        if func.pure and all(is_lit(a) for a in args):
            return V(result, lit=self.call_now(func, args, node))
        strict = result is T.BOOL and BUILTINS.get(name) is func
        return V(result, node=self.gen.call(self.gen.bind(func.impl, f"_f_{name}"), args),
                 strict=strict)

    def check_args(self, func: Function, args: list[V], node: ast.Call) -> tuple[T, list[V]]:
        """Type-check (and scale money literals of) the arguments; returns the result type."""
        if func.poly:
            result, args = unify(args, self.to_money_soft)
            allowed = POLY_TYPES.get(func.name, frozenset(T))
            if result is None or result not in allowed:
                types = ", ".join(sorted({a.type.value for a in args}))
                self.err(f"{func.name}() cannot take arguments of type {types}", node)
            return result, args
        checked = []
        for i, (arg, a) in enumerate(zip(args, node.args, strict=True)):
            def to_money(v: V, a: ast.expr = a) -> V:
                return self.to_money(v, a)

            def err(msg: str, a: ast.expr = a) -> NoReturn:
                self.err(msg, a)

            checked.append(check_arg(func, i, arg, to_money, err))
        return func.returns, checked

    def to_money_soft(self, v: V) -> V | None:
        if v.type is T.NUMBER and is_lit(v) and (v.lit * 100).denominator == 1:
            return V(T.MONEY, lit=v.lit * 100)
        return None

    def argument(self, func: Function, i: int, a: ast.expr) -> V:
        if isinstance(a, ast.Name) and a.id in self.schema.roots:
            param = func.params[min(i, len(func.params) - 1)]
            if param is not T.ANY or func.poly:
                self.err(f"'{a.id}' cannot be passed to {func.name}()", a)
            self.names.add(a.id)
            return V(T.ANY, node=ast.Name(_ROOT_VARS[a.id], ast.Load()), strict=False)
        return self.visit(a)

    def call_now(self, func: Function, args: list[V], node: ast.AST) -> Any:
        try:
            value = func.impl(*[norm_number(a.lit) for a in args])
        except Exception as exc:  # a builtin given bad literals: report, never crash
            self.err(f"{func.name}() failed on these arguments ({type(exc).__name__})", node)
        if value is None:
            self.err(f"{func.name}() gives null for these arguments", node)
        return Fraction(value) if isinstance(value, int) and not isinstance(value, bool) \
            else value
