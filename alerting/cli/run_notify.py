"""``alerting run --notify``: push the run's tasks through the receivers of the rules file's
``routing:`` tree (console, JSON lines, webhook, chat robots, e-mail) with an in-memory task store
and outbox. It is the embedded form of what the Kafka worker's dispatcher does on the tasks
topic: assignment, routing, grouping, then delivery with retries and a dead-letter."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from alerting.directory import Directory
from alerting.notifiers.registry import NotifierDeps
from alerting.routing.build import build_dispatch
from alerting.store.memory import MemoryTaskStore
from alerting.tasks import Task

RETRY_POLL_S = 0.2


async def notify(ruleset: Any, directory: Directory, tasks: list[Task], *,
                 timeout_s: float) -> dict[str, int]:
    """Dispatch ``tasks`` and deliver until the outbox is empty or ``timeout_s`` has passed
    (failing receivers are retried with their backoff meanwhile). Returns the outbox counters
    plus what is still queued; raises ``ConfigError`` for a receiver that cannot be built."""
    async with httpx.AsyncClient() as http:
        dispatcher, outbox = build_dispatch(
            ruleset.routing, ruleset.calendar, directory, MemoryTaskStore(),
            NotifierDeps(http=http), default_locale=ruleset.spec.defaults.locale)
        try:
            await dispatcher.handle(tasks)
            await dispatcher.flush_all()
            deadline = time.monotonic() + timeout_s
            while True:
                await outbox.run_once()
                left = await outbox.depth()
                if left == 0 or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(RETRY_POLL_S)  # waiting out a retry backoff, bounded
            return {**outbox.stats, "queued": left}
        finally:
            await outbox.aclose()


def notify_sync(ruleset: Any, directory: Directory, tasks: list[Task], *,
                timeout_s: float) -> dict[str, int]:
    """``notify`` for the synchronous CLI."""
    return asyncio.run(notify(ruleset, directory, tasks, timeout_s=timeout_s))
