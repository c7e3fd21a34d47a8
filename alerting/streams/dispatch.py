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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import redis.asyncio as aioredis
from aiokafka.errors import CommitFailedError

from alerting.directory import Directory
from alerting.errors import AlertingError
from alerting.metrics import Metrics
from alerting.notifiers.registry import NotifierDeps
from alerting.settings import Settings
from alerting.streams.topics import new_consumer, new_producer, start_kafka
from alerting.tasks import Task

if TYPE_CHECKING:
    from alerting.ops import LiveRules

log = logging.getLogger("alerting.dispatch")


def build(s: Settings, ruleset: Any, directory: Directory, redis: aioredis.Redis,
          deps: NotifierDeps, metrics: Metrics | None) -> tuple[Any, Any, Any]:
    """(dispatcher, outbox, task store) on Redis under the settings' prefix."""
    from alerting.notifiers.outbox_store import RedisOutboxStore
    from alerting.routing.build import build_dispatch
    from alerting.store.redis import RedisTaskStore

    store = RedisTaskStore(redis, prefix=s.redis_prefix)
    dispatcher, outbox = build_dispatch(
        ruleset.routing, ruleset.calendar, directory, store, deps,
        outbox_store=RedisOutboxStore(redis, prefix=f"{s.redis_prefix}outbox:"),
        metrics=metrics)
    return dispatcher, outbox, store


def notifier_deps(s: Settings, redis: aioredis.Redis, http: httpx.AsyncClient) -> NotifierDeps:
    """What the worker lends its notifiers: its HTTP client, its Redis, and producers on its own
    Kafka cluster with its security, acks and idempotence settings (kafka notifiers without a
    ``bootstrap``)."""
    return NotifierDeps(http=http, redis=redis, kafka_client=lambda: new_producer(s))


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
            try:
                await consumer.commit()
            except CommitFailedError:
                # the group rebalanced since this batch was fetched (another worker joined or
                # died): the commit is void and the batch's partitions go on from their last
                # commit wherever they are now, so the batch is handled again, which stores
                # and notifies nothing twice (intake keeps one copy per task and revision)
                log.warning("dispatch: offsets not committed, the group rebalanced; the "
                            "batch will be handled again")
    finally:
        await consumer.stop()


class DispatchSide:
    """The dispatcher, its outbox and the tasks-topic consumer of one worker process. ``run``
    consumes and delivers until ``stop``; ``tick`` (group flushes, escalations, repeats,
    digests) runs inside ``run`` (``ticks=True``) or from the host's timer (faust)."""

    def __init__(self, s: Settings, ruleset: Any, directory: Directory,
                 redis: aioredis.Redis, metrics: Metrics | None = None) -> None:
        self.s, self.ruleset, self.directory = s, ruleset, directory
        self.redis, self.metrics = redis, metrics
        self.http: httpx.AsyncClient | None = None
        self.deps: NotifierDeps | None = None
        self.dispatcher: Any = None
        self.outbox: Any = None

    async def start(self) -> None:
        """Build the dispatcher and the outbox over Redis."""
        self.http = httpx.AsyncClient(timeout=10)
        self.deps = notifier_deps(self.s, self.redis, self.http)
        self.dispatcher, self.outbox, _ = build(self.s, self.ruleset, self.directory,
                                                self.redis, self.deps, self.metrics)

    async def run(self, stop: asyncio.Event, ticks: bool = True) -> None:
        """Consume the tasks topic and deliver notifications until ``stop``."""
        loops = [consume(self.s, self.dispatcher, stop), self.outbox.run(stop)]
        if ticks:
            loops.append(self.dispatcher.run(stop))
        await asyncio.gather(*loops)

    def prepare_rules(self, ruleset: Any) -> Callable[[], None]:
        """For a rules reload (``LiveRules.on_apply``): build the new receivers' notifiers now,
        so that a bad one (a missing secret: ``ConfigError``) rejects the reload before
        anything changes, and return the swap of routing, calendar and receivers."""
        from alerting.notifiers.registry import build_receivers

        receivers = None
        if self.deps is not None and ruleset.routing != self.ruleset.routing:
            receivers = build_receivers(ruleset.routing.notifier_configs(), self.deps)

        def commit() -> None:
            self.ruleset = ruleset
            if self.dispatcher is None:
                return  # not started: start() builds from the new rules
            if receivers is not None:
                self.outbox.swap_receivers(receivers)
            self.dispatcher.swap_routing(ruleset.routing, ruleset.calendar)
        return commit

    async def tick(self) -> None:
        """One dispatcher round; a failure (e.g. Redis briefly away) is logged, not raised."""
        if self.dispatcher is None:
            return
        try:
            await self.dispatcher.tick()
        except AlertingError as e:
            log.warning("dispatcher tick failed: %s", type(e).__name__)

    async def close(self) -> None:
        """Close the outbox and the HTTP client."""
        try:
            if self.outbox is not None:
                await self.outbox.aclose()
        finally:
            if self.http is not None:
                await self.http.aclose()


async def run_dispatch(s: Settings, ruleset: Any, directory: Directory, redis: aioredis.Redis,
                       stop: asyncio.Event, metrics: Metrics | None = None,
                       live: LiveRules | None = None) -> None:
    """The dispatch side of a worker process, until ``stop``; with ``live``, reloaded rules
    reach it (``DispatchSide.prepare_rules``)."""
    side = DispatchSide(s, ruleset, directory, redis, metrics)
    await side.start()
    if live is not None:
        live.on_apply(side.prepare_rules)
    try:
        await side.run(stop)
    finally:
        await side.close()
