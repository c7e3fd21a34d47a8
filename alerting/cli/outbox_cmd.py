"""CLI: ``alerting outbox status|dead|requeue`` on the Redis outbox of the workers.

The outbox lives under ``<prefix>outbox:``. ``dead`` shows why notifications were given up
(ids, receiver, notifier, reason; not the message text, which names customers). ``requeue``
puts the oldest dead letters back to their notifier after the cause was fixed; a running
worker delivers them (a notifier that no longer exists dead-letters them again).

Exit codes: 0 ok, 4 Redis unavailable.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
import typer
from redis import exceptions as redis_exc

from alerting.cli.options import DEFAULT_PREFIX, DEFAULT_URL, AsJson, Prefix, RedisUrl
from alerting.notifiers.outbox_store import OUTBOX_KEYSPACE, RedisOutboxStore, new_item
from alerting.redis_client import open_redis_from_env

T = TypeVar("T")
outbox_app = typer.Typer(help="Inspect the notification outbox and its dead letters (Redis).",
                         no_args_is_help=True)
Limit = Annotated[int, typer.Option(min=1, help="How many records at most")]


def _run(redis_url: str, prefix: str, action: Callable[[RedisOutboxStore], Awaitable[T]]) -> T:
    async def go() -> T:
        client = open_redis_from_env(redis_url)
        try:
            return await action(RedisOutboxStore(client, prefix + OUTBOX_KEYSPACE))
        finally:
            await client.aclose()
    try:
        return asyncio.run(go())
    except (redis_exc.ConnectionError, redis_exc.TimeoutError, OSError) as e:
        typer.echo(f"error: Redis unavailable ({type(e).__name__})", err=True)
        raise typer.Exit(4) from None


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    n = record.get("notification", {})
    return {"notification_id": n.get("notification_id"), "receiver": n.get("receiver"),
            "kind": n.get("kind"), "notifier": record.get("notifier"),
            "reason": record.get("reason"), "attempts": record.get("attempts"),
            "at": record.get("at")}


@outbox_app.command("status")
def status_cmd(as_json: AsJson = False, redis_url: RedisUrl = DEFAULT_URL,
               prefix: Prefix = DEFAULT_PREFIX) -> None:
    """Waiting notifications per notifier and the dead-letter count."""
    async def action(store: RedisOutboxStore) -> dict[str, Any]:
        return {"waiting": await store.depth(), "dead_letters": await store.dead_count()}

    out = _run(redis_url, prefix, action)
    if as_json:
        typer.echo(orjson.dumps(out).decode())
        return
    for name, n in sorted(out["waiting"].items()):
        typer.echo(f"{name:<32} {n} waiting")
    typer.echo(f"dead letters: {out['dead_letters']}")


@outbox_app.command("dead")
def dead_cmd(limit: Limit = 20, as_json: AsJson = False, redis_url: RedisUrl = DEFAULT_URL,
             prefix: Prefix = DEFAULT_PREFIX) -> None:
    """The newest dead letters: which notification, which notifier, why."""
    records = [_summary(r) for r in _run(redis_url, prefix, lambda s: s.dead_letters(limit))]
    if as_json:
        typer.echo(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode())
        return
    for r in records:
        typer.echo(f"{r['notification_id']}  {r['receiver']}  {r['notifier']}  "
                   f"attempts {r['attempts']}  {r['reason']}")
    if not records:
        typer.echo("no dead letters")


@outbox_app.command("requeue")
def requeue_cmd(limit: Limit = 100, redis_url: RedisUrl = DEFAULT_URL,
                prefix: Prefix = DEFAULT_PREFIX) -> None:
    """Put the oldest dead letters back to their notifier (attempts start again)."""
    async def action(store: RedisOutboxStore) -> int:
        now, done = time.time(), 0
        for raw in await store.oldest_dead(limit):
            record = json.loads(raw)
            if record.get("forced"):
                continue  # no notifier to retry: needs a receiver; the worker's requeue_dead
            item = new_item(record["notification"], record["notifier"], now)
            done += await store.requeue(raw, [item], now)
        return done

    typer.echo(f"requeued {_run(redis_url, prefix, action)} notification(s)")


def register(app: typer.Typer) -> None:
    """Add ``alerting outbox`` to the root command."""
    app.add_typer(outbox_app, name="outbox")
