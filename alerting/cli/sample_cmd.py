"""``alerting sample``: write a realistic, deterministic sample bank (events, customers,
managers) for demos, backtests and benchmarks."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from alerting.sample import generate


def sample(
    out: Annotated[Path, typer.Option(help="Directory to write events.jsonl.gz, customers.csv "
                                           "and managers.csv into.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 2000,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 1,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD), local time +08:00.")]
    = "2025-01-01",
) -> None:
    """Generate sample data: customers across the tiers, a manager hierarchy, habits, dormant
    spells, large movements, transfers to other banks and complaints."""
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--start") from None
    t = time.perf_counter()
    counts = generate(customers, days, seed, first).write(out)
    secs = time.perf_counter() - t
    typer.echo(f"wrote {counts['events']} events, {counts['customers']} customers, "
               f"{counts['managers']} managers to {out} in {secs:.1f}s")


def register(app: typer.Typer) -> None:
    """Attach ``alerting sample``."""
    app.command("sample", short_help="Generate sample data: customers, managers and a year "
                "of their events.")(sample)
