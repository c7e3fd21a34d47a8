"""The command lists of ``alerting --help`` and its groups: one line of text per command.

Typer's rich help keeps the line breaks of a docstring's first paragraph in those lists, so a
summary wrapped in the source showed as ragged half-lines (``evaluate the`` / ``rules, ...``)."""

from __future__ import annotations

import inspect
from typing import Any

import typer.main
from typer.core import TyperGroup

from alerting.cli import app


def _commands(group: TyperGroup, prefix: str = "alerting") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, cmd in group.commands.items():
        out.append((f"{prefix} {name}", cmd))
        if isinstance(cmd, TyperGroup):
            out += _commands(cmd, f"{prefix} {name}")
    return out


def test_every_listed_command_summary_is_one_line() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    commands = _commands(root)
    assert {"alerting worker", "alerting tasks token"} <= {n for n, _ in commands}
    ragged = [name for name, cmd in commands
              if "\n" in (cmd.short_help or inspect.cleandoc(cmd.help or "").split("\n\n")[0])]
    assert ragged == []
