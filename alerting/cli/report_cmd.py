"""CLI: ``alerting report --since 30d``: the rule effectiveness table from the Redis task store
(the same rows as the web page ``/effectiveness`` and the Prometheus gauges)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from alerting.cli.options import DEFAULT_PREFIX, DEFAULT_URL, Prefix, RedisUrl
from alerting.durations import parse_duration
from alerting.errors import AlertingError
from alerting.redis_client import open_redis_from_env
from alerting.store.effectiveness import (
    DEFAULT_FALSE_ALARM_THRESHOLD,
    DEFAULT_MIN_RESOLVED,
    RuleEffectiveness,
    compute_effectiveness,
    fmt_duration,
    fmt_share,
)
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task

MAX_TASKS = 5_000_000


def render_table(rows: list[RuleEffectiveness], *, since: str, threshold: float,
                 min_resolved: int) -> Table:
    """The rich table printed by ``alerting report``."""
    table = Table(title=f"Rule effectiveness, last {since} (flag: false alarms > "
                        f"{threshold * 100:.0f} % with ≥ {min_resolved} resolved)")
    for name in ("rule", "created", "acked", "resolved", "escalated", "ack median", "ack p90",
                 "retained/converted", "false alarm", "flag"):
        table.add_column(name, justify="left" if name in ("rule", "flag") else "right")
    for r in rows:
        table.add_row(r.rule_id, str(r.created), str(r.acknowledged), str(r.resolved),
                      str(r.escalated), fmt_duration(r.ack_median_s), fmt_duration(r.ack_p90_s),
                      fmt_share(r.positive_share), fmt_share(r.false_alarm_share),
                      "[bold red]FLAGGED[/]" if r.flagged else "",
                      style="red" if r.flagged else None)
    return table


async def load_tasks(redis_url: str, prefix: str, since_ms: int) -> list[Task]:
    """Tasks created since ``since_ms`` from the Redis task store."""
    client = open_redis_from_env(redis_url)
    try:
        return await RedisTaskStore(client, prefix=prefix).list(since_ms=since_ms,
                                                                limit=MAX_TASKS)
    finally:
        await client.aclose()


def register(app: typer.Typer) -> None:
    """Attach ``alerting report`` to the root app."""

    @app.command("report", short_help="Per rule: tasks created, acknowledged, time to "
                 "acknowledge, outcomes; flags rules with too many false alarms.")
    def report(
        since: Annotated[str, typer.Option(help="Window back from now, e.g. 30d, 12h")] = "30d",
        redis_url: RedisUrl = DEFAULT_URL,
        prefix: Prefix = DEFAULT_PREFIX,
        threshold: Annotated[float, typer.Option(help="Flag above this false-alarm share")]
        = DEFAULT_FALSE_ALARM_THRESHOLD,
        min_resolved: Annotated[int, typer.Option(help="Resolved tasks needed to flag")]
        = DEFAULT_MIN_RESOLVED,
        as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")]
        = False,
    ) -> None:
        """Per rule: tasks created, acknowledged, time to acknowledge, outcomes; flags rules
        whose false-alarm share is too high."""
        err = Console(stderr=True)
        try:
            window_ms = parse_duration(since)
        except ValueError as e:
            err.print(f"[red]--since: {e}[/]")
            raise typer.Exit(2) from None
        if not 0 <= threshold <= 1 or min_resolved < 1:
            err.print("[red]--threshold must be within 0..1 and --min-resolved ≥ 1[/]")
            raise typer.Exit(2)
        since_ms = int(time.time() * 1000) - window_ms
        try:
            tasks = asyncio.run(load_tasks(redis_url, prefix, since_ms))
        except AlertingError as e:
            err.print(f"[red]cannot read the task store: {e}[/]")
            raise typer.Exit(1) from None
        rows = compute_effectiveness(tasks, false_alarm_threshold=threshold,
                                     min_resolved=min_resolved)
        if as_json:
            for r in rows:
                sys.stdout.write(orjson.dumps(r.to_dict()).decode() + "\n")
            return
        out = Console(width=max(Console().width, 140))
        if not rows:
            out.print(f"No tasks created in the last {since}.")
            return
        out.print(render_table(rows, since=since, threshold=threshold,
                               min_resolved=min_resolved))
