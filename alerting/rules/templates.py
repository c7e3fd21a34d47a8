"""Sandboxed title/body templates (Chinese and English) for tasks.

Templates are jinja2, rendered with ``ImmutableSandboxedEnvironment``, autoescape off (the
output is text/markdown; notifiers escape for HTML themselves). Example::

    t = compile_template("{{ customer.name|mask }} 取款 {{ event.amount|money }} 元，"
                         "{{ event.ts|datetime }}", allowed_names={"event", "customer"})
    t.render({"event": ev, "customer": cust, "tz": 480})

Safety, checked when the template is compiled (``ExpressionError`` with the line): only a
whitelist of jinja syntax is accepted — output, ``if``, ``for`` (over values of the context,
at most two loops deep, no recursive loops), comparisons, ``and/or/not``, ``~``, ``+ - * /``,
literals, ``x.attr`` and ``x["key"]``, whitelisted filters and tests. Rejected: function and
method calls (so no ``range``, ``lipsum``, ``.format``...), ``set``, macros, includes, imports,
blocks, ``**``, ``%``, ``//``, and any name or attribute starting with ``_``. On top of that,
jinja's sandbox blocks unsafe attributes, ``*`` refuses to repeat strings or lists, and the
output is capped at ``MAX_OUTPUT`` characters (rendering stops there).

Rendering never raises: a missing value (undefined name, attribute of a missing value, None)
renders empty; a filter given an unusable value renders it as text; any other error ends the
output with a short marker (and a log line naming the error type, never the data).

Filters: ``money`` (cents as int/Decimal/Fraction, or a major-unit decimal string such as the
evidence's "200000.00" → "1,234,567.89"), ``money_plain`` ("1234567.89"), ``pct`` (0.512 →
"51.2%"), ``date``/``datetime`` (epoch ms plus an offset in minutes, or ISO-8601 → "2024-03-01"
/ "2024-03-01 10:00"; the offset is the filter argument, else the context's ``tz``, else the
template's ``default_tz``), ``days`` (ms → days with one decimal), ``mask`` ("张三" → "张*",
"6222021234567890" → "6222********7890").
"""

from __future__ import annotations

import difflib
import logging
import operator
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from alerting.errors import ExpressionError
from alerting.rules import template_filters as tf

__all__ = ["MAX_OUTPUT", "Template", "compile_template"]

log = logging.getLogger(__name__)

MAX_OUTPUT = 4000
MAX_SOURCE = 20000
MAX_LOOP_DEPTH = 2
_SAFE_FILTERS = frozenset({
    "default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "length",
    "count", "round", "int", "float", "join", "first", "last", "abs", "string", "sort",
    "unique", "min", "max", "sum", "list", "reverse", "wordcount",
})
_SAFE_TESTS = frozenset({
    "defined", "undefined", "none", "number", "string", "integer", "float", "even", "odd",
    "divisibleby", "eq", "ne", "lt", "le", "gt", "ge", "in", "true", "false", "boolean",
    "sequence", "mapping", "==", "!=", "<", "<=", ">", ">=",
})
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr,
    nodes.Getitem, nodes.Filter, nodes.Test, nodes.If, nodes.For, nodes.CondExpr, nodes.And,
    nodes.Or, nodes.Not, nodes.Compare, nodes.Operand, nodes.Concat, nodes.Add, nodes.Sub,
    nodes.Mul, nodes.Div, nodes.Neg, nodes.Pos, nodes.List, nodes.Tuple, nodes.Keyword,
)


_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "lteq": operator.le,
    "gt": operator.gt, "gteq": operator.ge, "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}


class _Missing(ChainableUndefined):
    """A missing value: renders empty, orders as false, and stays missing through arithmetic."""

    __slots__ = ()

    def _false(self, *_: Any) -> bool:
        return False

    def _same(self, *_: Any) -> _Missing:
        return self

    __lt__ = __le__ = __gt__ = __ge__ = _false  # type: ignore[assignment]
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same  # type: ignore[assignment]
    __truediv__ = __rtruediv__ = __pos__ = __neg__ = _same  # type: ignore[assignment]


def _compare(left: Any, op: str, right: Any) -> bool:
    """One comparison with the condition language's null rule: ordering or membership with a
    missing value is false (``not in`` is its negation); never a TypeError."""
    if op in ("eq", "ne"):
        return bool(_CMP[op](left, right))
    if left is None or right is None or isinstance(left, Undefined) \
            or isinstance(right, Undefined):
        return op == "notin"
    try:
        return bool(_CMP[op](left, right))
    except TypeError:  # "a" < 1, 1 in 5
        return op == "notin"


class _CodeGen(CodeGenerator):
    """Compiles every comparison to ``environment.safe_compare(a, op, b, ...)``."""

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        self.write("environment.safe_compare(")
        self.visit(node.expr, frame)
        for op in node.ops:
            self.write(f", {op.op!r}, ")
            self.visit(op.expr, frame)
        self.write(")")


class _Env(ImmutableSandboxedEnvironment):
    """The sandbox, plus: ``*`` never repeats a sequence (``"a" * 10**9``), and comparisons
    never fail on missing values."""

    intercepted_binops = frozenset({"*"})
    code_generator_class = _CodeGen

    @staticmethod
    def safe_compare(*parts: Any) -> bool:
        """``a op b op c ...`` as a chain of ``_compare`` (each operand evaluated once)."""
        for i in range(0, len(parts) - 2, 2):
            if not _compare(parts[i], parts[i + 1], parts[i + 2]):
                return False
        return True

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and (isinstance(left, str | bytes | list | tuple)
                                or isinstance(right, str | bytes | list | tuple)):
            raise SecurityError("repeating text or lists with * is not allowed")
        return super().call_binop(context, operator, left, right)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _make_env() -> _Env:
    env = _Env(autoescape=False, undefined=_Missing, finalize=_finalize,
               keep_trailing_newline=True)
    env.globals.clear()  # no range, lipsum, cycler, joiner, namespace, dict
    env.filters = {k: v for k, v in env.filters.items() if k in _SAFE_FILTERS}
    env.filters.update(tf.FILTERS)
    env.tests = {k: v for k, v in env.tests.items() if k in _SAFE_TESTS}
    return env


_ENV = _make_env()


class Template:
    """A compiled, validated template. ``names``: the top-level names it reads."""

    __slots__ = ("source", "names", "_template", "_default_tz", "_max_output")

    def __init__(self, source: str, tree: nodes.Template, names: frozenset[str],
                 default_tz: int, max_output: int) -> None:
        self.source = source
        self.names = names
        self._template = _ENV.from_string(tree)
        self._default_tz = default_tz
        self._max_output = max_output

    def render(self, context: Mapping[str, Any]) -> str:
        """Render to text, at most ``max_output`` characters; never raises."""
        values = {"tz": self._default_tz, **context}
        out: list[str] = []
        size = 0
        try:
            for chunk in self._template.generate(values):
                out.append(chunk)
                size += len(chunk)
                if size > self._max_output:
                    return "".join(out)[: self._max_output - 1] + "…"
        except Exception as exc:  # a template must never take a worker down
            log.warning("template render failed: %s", type(exc).__name__)
            out.append(f" [template error: {type(exc).__name__}]")
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template({self.source[:40]!r})"


def compile_template(source: str, *, allowed_names: set[str] | frozenset[str] | None = None,
                     default_tz: int = 0, max_output: int = MAX_OUTPUT) -> Template:
    """Parse and validate a template; raises ``ExpressionError`` naming the line.

    With ``allowed_names``, a top-level name outside it is an error (with a suggestion).
    ``default_tz`` (minutes east of UTC) is used by ``date``/``datetime`` when neither the
    filter argument nor the context's ``tz`` gives an offset.
    """
    if not isinstance(source, str):
        raise ExpressionError("a template must be a string", source=str(source)[:100])
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"template is {len(source)} characters long; the limit is "
                              f"{MAX_SOURCE}", source=source[:100])
    try:
        tree = _ENV.parse(source)
        _check(tree, source, 0)
        names = frozenset(meta.find_undeclared_variables(tree))
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"template syntax error at line {exc.lineno}: {exc.message}",
                              source=source) from None
    except RecursionError:
        raise ExpressionError("template nested too deeply", source=source) from None
    if allowed_names is not None:
        for name in sorted(names - set(allowed_names)):
            close = difflib.get_close_matches(name, list(allowed_names), n=1)
            hint = f"; did you mean {close[0]}?" if close else \
                f"; allowed: {', '.join(sorted(allowed_names))}"
            raise ExpressionError(f"unknown name '{name}' in template{hint}", source=source)
    try:
        return Template(source, tree, names, default_tz, max_output)
    except RecursionError:
        raise ExpressionError("template nested too deeply", source=source) from None


def _check(node: nodes.Node, source: str, loops: int) -> None:
    """Accept only whitelisted jinja nodes (recursively)."""
    line = getattr(node, "lineno", None)

    def bad(what: str) -> ExpressionError:
        return ExpressionError(f"template line {line}: {what} is not allowed", source=source)

    if not isinstance(node, _ALLOWED_NODES):
        raise bad(_describe(node))
    if isinstance(node, nodes.Name | nodes.Getattr) and _name_of(node).startswith("_"):
        raise bad(f"the name '{_name_of(node)}' (leading underscore)")
    if isinstance(node, nodes.Name) and node.name == "self":
        raise bad("'self' (the template object)")
    if isinstance(node, nodes.Getitem) and not (
            isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, int | str)
            and not str(node.arg.value).startswith("_")):
        raise bad("a subscript other than x[0] or x[\"key\"]")
    if isinstance(node, nodes.Filter | nodes.Test):
        table = _ENV.filters if isinstance(node, nodes.Filter) else _ENV.tests
        if node.name not in table:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            raise bad(f"the {kind} '{node.name}'")
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise bad("*args / **kwargs")
    if isinstance(node, nodes.For):
        if node.recursive:
            raise bad("a recursive loop")
        loops += 1
        if loops > MAX_LOOP_DEPTH:
            raise bad(f"nesting loops more than {MAX_LOOP_DEPTH} deep")
    for child in node.iter_child_nodes():
        _check(child, source, loops)


def _name_of(node: nodes.Name | nodes.Getattr) -> str:
    return node.name if isinstance(node, nodes.Name) else node.attr


def _describe(node: nodes.Node) -> str:
    names = {
        "Call": "calling a function or method", "Assign": "{% set %}", "AssignBlock":
        "{% set %}", "Macro": "{% macro %}", "CallBlock": "{% call %}", "Include":
        "{% include %}", "Import": "{% import %}", "FromImport": "{% from ... import %}",
        "Extends": "{% extends %}", "Block": "{% block %}", "Pow": "'**'", "Mod": "'%'",
        "FloorDiv": "'//'", "Dict": "a dict literal", "Slice": "slicing", "With": "{% with %}",
        "FilterBlock": "{% filter %}",
    }
    return names.get(type(node).__name__, f"'{type(node).__name__}'")
