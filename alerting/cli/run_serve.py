"""``alerting run --serve PORT``: after the run, serve its tasks on the inbox page and the task
API (memory store), so managers can try acknowledging and resolving them. Stops on Ctrl-C."""

from __future__ import annotations

import asyncio

from rich.console import Console

from alerting.directory import Directory
from alerting.metrics import default_metrics
from alerting.tasks import Task


def check_secret() -> None:
    """Fail before reading any input when the server secret is missing (ConfigError)."""
    from alerting.web.auth import secret_from_env

    secret_from_env()


async def _serve(tasks: list[Task], directory: Directory, host: str, port: int,
                 console: Console, stop: asyncio.Event | None) -> None:
    from alerting.store.memory import MemoryTaskStore
    from alerting.web.app import bound_port, make_services, serve

    store = MemoryTaskStore()
    for t in tasks:
        await store.upsert_emitted(t)
    services = make_services(store, directory, metrics=default_metrics())
    runner = await serve(services, host, port)
    try:
        console.print(f"serving {len(tasks)} tasks: http://{host}:{bound_port(runner)}/login "
                      f"(sign-in tokens: alerting tasks token MANAGER_ID); Ctrl-C stops",
                      markup=False)
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()


def serve_tasks(tasks: list[Task], directory: Directory, host: str, port: int,
                console: Console) -> None:
    """Serve until interrupted."""
    try:
        asyncio.run(_serve(tasks, directory, host, port, console, None))
    except KeyboardInterrupt:
        console.print("stopped")
