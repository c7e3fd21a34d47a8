"""Test-only stand-in for ``alerting.rules.templates`` (written by another engineer), used only
while that module does not exist yet: same API (``compile_template(source, allowed_names=)``
→ object with ``.render(mapping)``), jinja2 sandbox, the ``money`` filter."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from alerting.errors import ExpressionError
from alerting.money import format_money_grouped

_env = ImmutableSandboxedEnvironment(autoescape=False)
_env.filters["money"] = lambda v: "" if v is None else format_money_grouped(int(v))
_env.filters["pct"] = lambda v: "" if v is None else f"{v * 100:.1f}%"


class _Template:
    def __init__(self, source: str) -> None:
        try:
            self.t = _env.from_string(source)
        except TemplateSyntaxError as e:
            raise ExpressionError(f"template syntax error: {e.message}") from None

    def render(self, ctx: Mapping[str, Any]) -> str:
        return self.t.render(dict(ctx))


def compile_template(source: str, allowed_names: set[str] | None = None) -> _Template:
    return _Template(source)


def install() -> None:
    """Register the stand-in if the real module is missing."""
    try:
        import alerting.rules.templates  # noqa: F401
    except ImportError:
        mod = types.ModuleType("alerting.rules.templates")
        mod.compile_template = compile_template  # type: ignore[attr-defined]
        sys.modules["alerting.rules.templates"] = mod
