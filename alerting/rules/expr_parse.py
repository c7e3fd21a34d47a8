"""Front end of the condition language: size and nesting limits, the ``contains`` infix
operator, friendly hints for C-style operators, and parsing with Python's own parser.

Only turns text into a Python AST; nothing here executes anything. The checker in
``alerting.rules.expr`` then accepts a strict whitelist of node types.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from typing import NoReturn

from alerting.errors import ExpressionError

MAX_SOURCE = 2000
MAX_DEPTH = 50

_HINTS = {
    "&": "use 'and' instead of '&' / '&&'",
    "|": "use 'or' instead of '|' / '||'",
    "!": "use 'not' instead of '!'",
    "=": "use '==' to compare",
    "**": "'**' (power) is not allowed",
    ":=": "':=' (assignment) is not allowed",
    "~": "'~' is not allowed",
    "^": "'^' is not allowed",
    "<<": "'<<' is not allowed",
    ">>": "'>>' is not allowed",
    "//": "'//' is not allowed; use '/'",
    "@": "'@' is not allowed",
    "{": "'{...}' (sets and dicts) is not allowed; use [...] lists",
    ";": "';' is not allowed",
}


# Python AST → the language's operators, and readable names of rejected node types
ARITH_OPS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
                               ast.Mod: "%"}
CMP_OPS: dict[type, str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=",
                             ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in",
                             ast.Is: "contains"}
FORBIDDEN: dict[str, str] = {
    "Lambda": "lambda", "ListComp": "a comprehension", "SetComp": "a comprehension",
    "DictComp": "a comprehension", "GeneratorExp": "a comprehension", "Subscript":
    "subscripts ([...] after a value)", "NamedExpr": "':=' (assignment)", "JoinedStr":
    "f-strings", "FormattedValue": "f-strings", "Starred": "'*' unpacking", "IfExp":
    "'if ... else' expressions", "Dict": "dicts", "Set": "sets", "Await": "await",
    "Yield": "yield", "YieldFrom": "yield", "Slice": "slices",
}


_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "lambda"})


def _ends_operand(tok: tokenize.TokenInfo) -> bool:
    """Whether ``contains`` after this token is the infix operator (else a function name)."""
    if tok.type in (tokenize.NUMBER, tokenize.STRING):
        return True
    if tok.type == tokenize.NAME:
        return tok.string not in _KEYWORDS
    return tok.string in (")", "]")


def fail(message: str, source: str, col: int | None) -> NoReturn:
    """Raise ExpressionError; ``col`` is 1-based and also written into the message."""
    where = f" at column {col}" if col is not None else ""
    head, sep, hint = message.partition("; ")
    raise ExpressionError(f"{head}{where}{sep}{hint}", source=source, col=col)


def parse(source: object) -> tuple[ast.Expression, str, int]:
    """Parse a condition into a Python AST.

    Returns the tree, the normalised text the tree's offsets refer to, and how many leading
    characters were stripped (to turn node offsets back into columns of ``source``).
    Newlines and tabs become spaces, so YAML block scalars work and columns stay on one line.
    """
    if not isinstance(source, str):
        raise ExpressionError("a condition must be a string", source=str(source)[:100])
    if len(source) > MAX_SOURCE:
        raise ExpressionError(
            f"condition is {len(source)} characters long; the limit is {MAX_SOURCE}",
            source=source[:100],
        )
    text = source.translate({10: " ", 13: " ", 9: " ", 12: " ", 11: " "})
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    text = stripped.rstrip()
    if not text:
        raise ExpressionError("empty condition", source=source, col=1)
    text = _rewrite_tokens(text, source, lead)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # '"a" is "b"' warns; it is our contains operator
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        msg = (exc.msg or "invalid syntax").replace("invalid syntax. ", "")
        col = lead + exc.offset if exc.offset else None
        fail(f"syntax error: {msg}", source, col)
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(
            f"condition cannot be parsed: {type(exc).__name__}", source=source
        ) from None
    return tree, text, lead


def _rewrite_tokens(text: str, source: str, lead: int) -> str:
    """Check nesting and operators on the token stream; turn infix ``contains`` into the
    otherwise forbidden ``is`` operator, padded to the same length so columns stay exact."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text  # unterminated string or bracket: ast.parse gives the better message
    out = list(text)
    depth = 0
    for i, tok in enumerate(toks):
        col = lead + tok.start[1] + 1
        s = tok.string
        if tok.type in (tokenize.OP, tokenize.ERRORTOKEN):
            if s in ("(", "["):
                depth += 1
                if depth > MAX_DEPTH:
                    fail(f"condition nested deeper than {MAX_DEPTH} levels", source, col)
            elif s in (")", "]"):
                depth -= 1
            elif s.strip() in _HINTS:
                fail(f"unexpected '{s}'; {_HINTS[s.strip()]}", source, col)
        elif tok.type == tokenize.NAME:
            if s == "is":
                fail("'is' is not supported; use == null or != null", source, col)
            if s == "contains" and i and _ends_operand(toks[i - 1]):
                start = tok.start[1]
                out[start : start + len(s)] = list("is" + " " * (len(s) - 2))
    return "".join(out)


def event_kinds(node: ast.expr) -> frozenset[str] | None:
    """Kinds required by a top-level ``and`` conjunct on ``event.kind`` (sound: only
    conjuncts that must hold for the whole condition to be true are considered)."""
    conjuncts = node.values if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And) \
        else [node]
    found: frozenset[str] | None = None
    for c in conjuncts:
        kinds = _kinds_of(c)
        if kinds is not None:
            found = kinds if found is None else found & kinds
    return found


def _is_event_kind(n: ast.expr) -> bool:
    return (isinstance(n, ast.Attribute) and n.attr == "kind" and isinstance(n.value, ast.Name)
            and n.value.id == "event")


def _kinds_of(c: ast.expr) -> frozenset[str] | None:
    if not isinstance(c, ast.Compare) or len(c.ops) != 1:
        return None
    left, op, right = c.left, c.ops[0], c.comparators[0]
    if isinstance(op, ast.Eq) and _is_event_kind(right):
        left, right = right, left
    if not _is_event_kind(left):
        return None
    if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(
            right.value, str):
        return frozenset({right.value})
    if isinstance(op, ast.In) and isinstance(right, ast.List | ast.Tuple) and all(
            isinstance(x, ast.Constant) and isinstance(x.value, str) for x in right.elts):
        return frozenset(x.value for x in right.elts)  # type: ignore[attr-defined]
    return None
