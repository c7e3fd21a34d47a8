"""Value types and public records of the condition language (see ``alerting.rules.expr``).

Kept apart from the compiler so that the builtin functions can be declared without an import
cycle; import everything from ``alerting.rules.expr``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class T(enum.Enum):
    """Static value types. Runtime representation in brackets.

    MONEY [int cents; a Fraction after scaling by a non-integer factor], NUMBER [int, float or
    Fraction], STR [str], BOOL [bool], TIME [int epoch ms], DURATION [int ms], NULL [None],
    LIST [list/tuple/frozenset], ANY [anything: not checked at compile time].
    """

    MONEY = "money"
    NUMBER = "number"
    STR = "str"
    BOOL = "bool"
    TIME = "time"
    DURATION = "duration"
    NULL = "null"
    LIST = "list"
    ANY = "any"


@dataclass(frozen=True)
class Function:
    """A function callable from conditions.

    ``params`` gives the arity and the argument types (``T.ANY`` accepts anything, including a
    bare root such as ``customer``). ``pure`` functions called with literal arguments only are
    evaluated once at compile time (``days(90)``). ``poly`` functions (min, max, abs, coalesce)
    take arguments that must share one type, which is also the result type; ``variadic`` ones
    accept ``len(params)`` or more arguments.
    """

    name: str
    params: tuple[T, ...]
    returns: T
    impl: Callable[..., Any]
    pure: bool = False
    poly: bool = False
    variadic: bool = False


@dataclass(frozen=True)
class Schema:
    """Which roots (``event``, ``customer``, ``agg``) and fields a condition may read."""

    roots: Mapping[str, Mapping[str, T]]


@dataclass(frozen=True)
class Compiled:
    """A compiled condition: ``fn(event, customer, agg)`` evaluates it."""

    source: str
    fn: Callable[..., Any]
    type: T
    names: frozenset[str]
    event_kinds: frozenset[str] | None
    python: str = field(default="", repr=False, compare=False)  # generated code, for debugging

    def __call__(self, event: Any, customer: Any = None, agg: Any = None) -> Any:
        """Evaluate (convenience; hot paths should call ``fn`` directly)."""
        return self.fn(event, customer, agg)
