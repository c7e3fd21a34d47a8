"""``alerting import``: convert public data sets to alerting's wire format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alerting.cli.run_cmd import fail_cleanly
from alerting.importers.berka import convert

import_app = typer.Typer(help="Convert external data sets to events, customers and managers.",
                         no_args_is_help=True)


@import_app.command("berka")
def berka(
    src: Annotated[Path, typer.Argument(help="Directory with the Berka .asc files.")],
    out: Annotated[Path, typer.Option(help="Directory to write events.jsonl.gz, "
                                           "customers.csv and managers.csv into.")],
    accounts: Annotated[int | None, typer.Option(min=1, help="Only this many accounts, spread "
                                                             "evenly over the ids.")] = None,
) -> None:
    """Convert the PKDD'99 Berka bank data (Czech codes, CZK) to alerting's format."""
    with fail_cleanly():
        data = convert(src, accounts)
        counts = data.write(out)
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(data.skipped.items())) or "none"
    typer.echo(f"wrote {counts['events']} events, {counts['customers']} customers, "
               f"{counts['managers']} managers to {out} (skipped: {skipped})")


def register(app: typer.Typer) -> None:
    """Attach ``alerting import``."""
    app.add_typer(import_app, name="import")
