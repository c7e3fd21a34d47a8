"""``alerting rules check FILE`` and ``alerting rules test FILE``."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from alerting.errors import RulesError

_PATH = typer.Argument(Path("rules.yaml"), help="the rules file")
_VERBOSE = typer.Option(False, "--verbose", "-v", help="show the tasks of passing tests too")
rules_app = typer.Typer(help="Validate and test a rules file.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.add_typer(rules_app, name="rules")


def _load(path: Path):  # type: ignore[no-untyped-def]
    from alerting.rules.loader import load_rules

    try:
        return load_rules(path)
    except RulesError as e:
        for p in e.problems:
            p.path = p.path or str(path)
            typer.echo(p.render(), err=False)
        raise typer.Exit(1) from None


@rules_app.command("check", short_help="Validate a rules file (exit 1 on a problem); warn "
                   "when the holiday list runs out within 30 days.")
def check(path: Path = _PATH) -> None:
    """Validate a rules file: 'ok: N rules (k kinds)' or one line per problem (exit 1); a
    warning (exit 0) when the calendar's holiday list runs out within 30 days."""
    from alerting.routing.calendar import coverage_warning

    rs = _load(path)
    n = len(rs.spec.rules)
    typer.echo(f"ok: {n} rules ({len(rs.kinds)} kinds), {len(rs.tests)} tests")
    warning = coverage_warning(rs.calendar, time.time())
    if warning is not None:
        typer.echo(f"warning: {warning}")


@rules_app.command("test")
def test(path: Path = _PATH, verbose: bool = _VERBOSE) -> None:
    """Run the in-file tests of a rules file (exit 1 if any fails)."""
    from alerting.rules.testing import run_tests

    rs = _load(path)
    if not rs.tests:
        typer.echo("no tests in the rules file")
        raise typer.Exit(1)
    failed = 0
    for r in run_tests(rs):
        typer.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.name}")
        for line in r.problems:
            typer.echo(f"       {line}")
        if verbose or not r.ok:
            for t in sorted(r.tasks, key=lambda t: (t.created_ms, t.rule_id)):
                typer.echo(f"       got: {t.rule_id} {t.customer_id} rev {t.revision}: {t.title}")
        failed += not r.ok
    total = len(rs.tests)
    typer.echo(f"{total - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
