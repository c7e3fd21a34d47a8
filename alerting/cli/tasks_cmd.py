"""CLI: ``alerting tasks list|show|ack|resolve`` on the Redis task store.

``--as MANAGER_ID`` acts as that manager: they see their own tasks and those of the people they
supervise (the hierarchy comes from the directory in Redis, ``<prefix>dir:managers``). Without
``--as``, ``list`` and ``show`` are the operator's unrestricted view; ``ack`` and ``resolve``
always need ``--as`` because the history records who acted.

Exit codes: 0 ok, 1 no such task, 3 not allowed (another manager's task, wrong state or
outcome), 4 Redis unavailable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
import typer

from alerting.cli.options import DEFAULT_PREFIX, DEFAULT_URL, AsJson, Prefix, RedisUrl
from alerting.durations import parse_duration
from alerting.errors import AlertingError, Forbidden, ServiceUnavailable, TaskNotFound
from alerting.redis_client import open_redis_from_env
from alerting.store.lifecycle import TaskService
from alerting.store.redis import RedisTaskStore
from alerting.streams.directory import load_directory
from alerting.tasks import OUTCOMES, STATUSES, Task
from alerting.web.auth import issue_token, secret_from_env

T = TypeVar("T")

tasks_app = typer.Typer(help="List, show, acknowledge and resolve tasks (Redis task store).",
                        no_args_is_help=True)

AsManager = Annotated[str | None, typer.Option("--as", help="Act as this manager id")]
AsRequired = Annotated[str, typer.Option("--as", help="Act as this manager id (required)")]
Note = Annotated[str | None, typer.Option("--note", help="Follow-up note")]


def _run(redis_url: str, prefix: str,
         action: Callable[[TaskService], Awaitable[T]]) -> T:
    """Open Redis, build the service over the store and directory, run, map errors to exits."""
    async def go() -> T:
        client = open_redis_from_env(redis_url)
        try:
            directory = await load_directory(client, prefix)
            svc = TaskService(RedisTaskStore(client, prefix), directory, clock=time.time)
            return await action(svc)
        finally:
            await client.aclose()
    try:
        return asyncio.run(go())
    except TaskNotFound as e:
        typer.echo(f"error: no task {e}", err=True)
        raise typer.Exit(1) from None
    except Forbidden as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(3) from None
    except (ServiceUnavailable, OSError) as e:
        typer.echo(f"error: Redis unavailable ({type(e).__name__})", err=True)
        raise typer.Exit(4) from None


def _line(t: Task) -> str:
    return (f"{t.task_id}  {t.status:<12} {t.severity:<8} {t.assignee_id or '-':<10} "
            f"due {t.due_at}  {t.rule_id}  {t.title}")


def _detail(t: Task) -> str:
    lines = [f"{t.task_id}  {t.title}",
             f"  rule {t.rule_id}, severity {t.severity}, customer {t.customer_id}",
             f"  status {t.status}" + (f" ({t.outcome})" if t.outcome else ""),
             f"  assignee {t.assignee_id or '-'} (level {t.escalation_level})",
             f"  created {t.created_at}, due {t.due_at}"]
    lines += [f"  {line}" for line in t.body.splitlines()]
    lines += [f"  evidence {k} = {v}" for k, v in t.evidence.items()]
    if t.note:
        lines.append(f"  note: {t.note}")
    lines += [f"  {h.get('at')}  {h.get('by')}  {h.get('action')}  {h.get('detail', '')}"
              for h in t.history]
    return "\n".join(lines)


def _emit(obj: Any, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(text)


def _statuses(status: str | None) -> list[str] | None:
    if not status:
        return None
    out = [s.strip() for s in status.split(",") if s.strip()]
    bad = [s for s in out if s not in STATUSES]
    if bad:
        raise typer.BadParameter(f"unknown status {', '.join(bad)}; use {', '.join(STATUSES)}")
    return out


@tasks_app.command("list")
def list_cmd(as_: AsManager = None,
             status: Annotated[str | None, typer.Option(
                 help="Comma-separated statuses (open,acknowledged,resolved)")] = None,
             rule: Annotated[str | None, typer.Option(help="Only this rule id")] = None,
             limit: Annotated[int, typer.Option(min=1)] = 100,
             as_json: AsJson = False, redis_url: RedisUrl = DEFAULT_URL,
             prefix: Prefix = DEFAULT_PREFIX) -> None:
    """Tasks by due time, then severity (the manager's own and their team's with --as)."""
    statuses = _statuses(status)

    async def action(svc: TaskService) -> list[Task]:
        if as_ is None:
            return await svc.store.list(statuses=statuses, rule_id=rule, limit=limit)
        tasks = await svc.list_for(as_, statuses=statuses, limit=1_000_000)
        return [t for t in tasks if rule is None or t.rule_id == rule][:limit]

    tasks = _run(redis_url, prefix, action)
    _emit([t.to_dict() for t in tasks], as_json,
          "\n".join(_line(t) for t in tasks) if tasks else "no tasks")


@tasks_app.command("show")
def show_cmd(task_id: str, as_: AsManager = None, as_json: AsJson = False,
             redis_url: RedisUrl = DEFAULT_URL, prefix: Prefix = DEFAULT_PREFIX) -> None:
    """One task with its evidence and history."""
    t = _run(redis_url, prefix, lambda svc: svc.get(task_id) if as_ is None
             else svc.get_for(as_, task_id))
    _emit(t.to_dict(), as_json, _detail(t))


@tasks_app.command("ack")
def ack_cmd(task_id: str, as_: AsRequired, note: Note = None, as_json: AsJson = False,
            redis_url: RedisUrl = DEFAULT_URL, prefix: Prefix = DEFAULT_PREFIX) -> None:
    """Acknowledge a task (stops its escalation clock)."""
    t = _run(redis_url, prefix, lambda svc: svc.acknowledge(as_, task_id, note))
    _emit(t.to_dict(), as_json, f"{t.task_id} acknowledged at {t.acknowledged_at}")


@tasks_app.command("resolve")
def resolve_cmd(task_id: str, as_: AsRequired,
                outcome: Annotated[str, typer.Option(help="One of " + ", ".join(OUTCOMES))],
                note: Note = None, as_json: AsJson = False,
                redis_url: RedisUrl = DEFAULT_URL, prefix: Prefix = DEFAULT_PREFIX) -> None:
    """Resolve a task with an outcome and an optional follow-up note."""
    t = _run(redis_url, prefix, lambda svc: svc.resolve(as_, task_id, outcome, note))
    _emit(t.to_dict(), as_json, f"{t.task_id} resolved ({t.outcome}) at {t.resolved_at}")


@tasks_app.command("token", short_help="Issue a sign-in token for a manager (inbox page and "
                   "API), signed with ALERTING_API_SECRET.")
def token_cmd(manager_id: str,
              ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 12h, 30d")] = "30d") -> None:
    """Issue a sign-in token for a manager (inbox page and API), signed with
    ALERTING_API_SECRET. Hand it to the manager over a trusted channel."""
    try:
        token = issue_token(secret_from_env(), manager_id, now=time.time(),
                            ttl_s=parse_duration(ttl) // 1000)
    except (AlertingError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)


def register(app: typer.Typer) -> None:
    """Attach ``alerting tasks`` to the root app."""
    app.add_typer(tasks_app, name="tasks")
