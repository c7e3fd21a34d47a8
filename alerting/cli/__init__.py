"""The ``alerting`` command. Each sub-command group lives in its own module and registers itself
on the root app in the explicit list below."""

from __future__ import annotations

import typer

from alerting.cli import (
    backtest_cmd,
    directory_cmd,
    import_cmd,
    outbox_cmd,
    report_cmd,
    rules_cmd,
    run_cmd,
    sample_cmd,
    tasks_cmd,
    worker_cmd,
)

app = typer.Typer(
    name="alerting",
    help="Real-time relationship alerts for bank account managers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (run_cmd, backtest_cmd, rules_cmd, sample_cmd, import_cmd, worker_cmd,
                directory_cmd, tasks_cmd, report_cmd, outbox_cmd):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
