"""Dispatching tasks to people from the tasks topic (``ALERTING_DISPATCH=true``).

A separate consumer group (``<group>-dispatch``) reads the tasks topic, so notification work
never slows the hot path. Each batch goes to ``Dispatcher.handle`` (store in Redis, assign,
route, group, enqueue in the durable outbox), then the offsets are committed: at-least-once,
which is safe because the task store upserts by (task_id, revision) and the outbox deduplicates
on the deterministic notification id. ``Dispatcher.run`` (tick: group flushes, escalations,
repeats, digests) and ``Outbox.run`` (deliveries with retries) run beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis

from alerting.directory import Directory
from alerting.errors import AlertingError
from alerting.metrics import Metrics
from alerting.settings import Settings
from alerting.streams.topics import new_consumer, start_kafka
from alerting.tasks import Task

log = logging.getLogger("alerting.dispatch")


def build(s: Settings, ruleset: Any, directory: Directory, redis: aioredis.Redis,
          http: httpx.AsyncClient, metrics: Metrics | None) -> tuple[Any, Any, Any]:
    """(dispatcher, outbox, task store) on Redis under the settings' prefix."""
    from alerting.notifiers.outbox_store import RedisOutboxStore
    from alerting.notifiers.registry import NotifierDeps
    from alerting.routing.build import build_dispatch
    from alerting.store.redis import RedisTaskStore

    store = RedisTaskStore(redis, prefix=s.redis_prefix)
    dispatcher, outbox = build_dispatch(
        ruleset.routing, ruleset.calendar, directory, store,
        NotifierDeps(http=http, redis=redis),
        outbox_store=RedisOutboxStore(redis, prefix=f"{s.redis_prefix}outbox:"),
        metrics=metrics)
    return dispatcher, outbox, store


def decode_tasks(values: list[bytes]) -> list[Task]:
    """Tasks from topic values; an undecodable message is logged and skipped."""
    out = []
    for v in values:
        try:
            out.append(Task.from_json(v))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            log.warning("skipping an undecodable task message")
    return out


async def consume(s: Settings, dispatcher: Any, stop: asyncio.Event) -> None:
    """Tasks topic → ``dispatcher.handle`` → commit, until ``stop``."""
    consumer = new_consumer(s, f"{s.group_id}-dispatch")
    await start_kafka(consumer, s)
    consumer.subscribe([s.topic_tasks])
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=s.max_batch)
            values = [r.value for recs in batch.values() for r in recs if r.value is not None]
            if not values:
                continue
            tasks = decode_tasks(values)
            while not stop.is_set():
                try:
                    await dispatcher.handle(tasks)
                    break
                except AlertingError as e:  # e.g. Redis briefly away: retry the same batch
                    log.warning("dispatch failed, retrying: %s", type(e).__name__)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
            else:
                return  # stopping: leave the batch uncommitted, it is handled again later
            await consumer.commit()
    finally:
        await consumer.stop()


async def run_dispatch(s: Settings, ruleset: Any, directory: Directory, redis: aioredis.Redis,
                       stop: asyncio.Event, metrics: Metrics | None = None) -> None:
    """The dispatch side of a worker process, until ``stop``."""
    async with httpx.AsyncClient(timeout=10) as http:
        dispatcher, outbox, _ = build(s, ruleset, directory, redis, http, metrics)
        try:
            await asyncio.gather(consume(s, dispatcher, stop), dispatcher.run(stop),
                                 outbox.run(stop))
        finally:
            await outbox.aclose()
