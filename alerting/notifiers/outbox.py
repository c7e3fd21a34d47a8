"""The outbox: notifications wait here until every notifier of their receiver delivered them.

A failing notifier never blocks the stream or loses a notification. ``enqueue`` stores one item
per notifier of the receiver (idempotent on ``notification_id``); ``run_once(now)`` sends the due
items, each notifier with its own concurrency bound, and on failure

- retryable (timeout, 5xx, 429, connection refused): retries after exponential backoff with
  jitter (``Retry-After`` honoured), up to the notifier's ``max_retries``, then dead-letters;
- permanent (4xx, bad address, unknown notifier): dead-letters at once with the reason.

Time is passed in (``now``, seconds) so tests drive retries without waiting. Storage is
:class:`~alerting.notifiers.outbox_store.RedisOutboxStore` (durable, safe with several workers)
or :class:`~alerting.notifiers.outbox_store.MemoryOutboxStore` (embedded run).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from alerting.errors import PermanentNotifierError, RetryableNotifierError, ServiceUnavailable
from alerting.metrics import Metrics, default_metrics
from alerting.notifiers.base import Notification, Notifier, RetryPolicy
from alerting.notifiers.outbox_store import Item, MemoryOutboxStore, OutboxStore, new_item

log = logging.getLogger(__name__)

UNROUTED = "_unrouted"  # metric label for notifications whose receiver has no notifiers


class Outbox:
    """Stores notifications and delivers them through the receivers' notifiers."""

    def __init__(
        self,
        receivers: Mapping[str, Sequence[Notifier]],
        store: OutboxStore | None = None,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        batch: int = 200,
        lease: float = 300.0,
        send_timeout: float = 30.0,
        default_retry: RetryPolicy | None = None,
    ) -> None:
        self._receivers: dict[str, list[Notifier]] = {}
        self._by_name: dict[str, Notifier] = {}
        self._retired: list[Notifier] = []  # replaced by a reload: closed by ``aclose``
        self._loops: dict[str, asyncio.Task[None]] = {}  # ``run``'s delivery loop per notifier
        self._running: tuple[asyncio.Event, float] | None = None
        self.store: OutboxStore = store if store is not None else MemoryOutboxStore()
        self._metrics = metrics if metrics is not None else default_metrics()
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._batch = batch
        # A send taking longer than send_timeout counts as a retryable failure, and a round
        # claims only what the notifier can finish well within the lease, so a claimed item
        # is never re-claimed by another worker while it is still being sent.
        self._lease = lease
        self._send_timeout = min(send_timeout, lease / 2)
        self._rounds_per_lease = max(1, int(lease / (2 * self._send_timeout)))
        self._default_retry = default_retry or RetryPolicy()
        self._limits: dict[str, int] = {}
        self._sems: dict[str, asyncio.Semaphore] = {}
        self.swap_receivers(receivers)
        # Bounds store writes in flight (retries and dead letters of a batch): the Redis
        # client's connection pool is finite.
        self._store_sem = asyncio.Semaphore(8)
        self.stats = {"enqueued": 0, "duplicates": 0, "sent": 0, "retried": 0, "dead": 0,
                      "store_errors": 0}

    def swap_receivers(self, receivers: Mapping[str, Sequence[Notifier]]) -> None:
        """Deliver through these receivers' notifiers from now on (at start, and when a rules
        reload changes the routing). Items queued for a notifier that is gone stay queued
        (housekeeping warns; ``requeue_dead`` and a later config can still send them); a new
        notifier gets its own loop in a running ``run``; a round already under way finishes
        with the notifier it started with, which ``aclose`` closes."""
        old = self._by_name
        self._receivers = {r: list(ns) for r, ns in receivers.items()}
        self._by_name = {n.name: n for ns in self._receivers.values() for n in ns}
        self._retired.extend(n for name, n in old.items() if self._by_name.get(name) is not n)
        for name, n in self._by_name.items():
            if old.get(name) is not n:
                self.set_concurrency(name, getattr(n, "concurrency", 4))
        self._start_loops()

    def set_concurrency(self, name: str, limit: int) -> None:
        """Bound how many sends of notifier ``name`` run at once."""
        self._limits[name] = limit
        self._sems[name] = asyncio.Semaphore(limit)

    async def enqueue(self, n: Notification) -> bool:
        """Store ``n`` for each notifier of its receiver; False if its id was enqueued before.
        A receiver without notifiers dead-letters it (nothing is dropped silently). Raises
        ServiceUnavailable if the store cannot take it (the caller keeps ``n`` and retries)."""
        now = self._clock()
        notifiers = self._receivers.get(n.receiver, [])
        items = [self._item(n, x.name, now) for x in notifiers]
        try:
            added = await self.store.add(n.notification_id, items, now)
        except Exception as exc:
            raise ServiceUnavailable(f"outbox store unavailable ({type(exc).__name__})") from None
        if not added:
            self.stats["duplicates"] += 1
            return False
        self.stats["enqueued"] += 1
        if not items:
            item = self._item(n, UNROUTED, now)
            await self._dead(item, now, "receiver has no notifiers", forced=True)
        return True

    @staticmethod
    def _item(n: Notification, notifier: str, now: float) -> Item:
        return new_item(n.to_dict(), notifier, now)

    async def run_once(self, now: float | None = None) -> int:
        """Deliver every item due at ``now`` (default: the clock), all notifiers side by side;
        return how many were sent. Never raises: storage errors are logged and counted (the
        items come back after their lease)."""
        results = await asyncio.gather(*(self._drain(name, now) for name in self._by_name))
        await self._housekeeping(now)
        return sum(results)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Until ``stop`` is set: one delivery loop per notifier (a slow receiver delays only
        its own queue; notifiers added by ``swap_receivers`` get theirs) plus housekeeping
        (depth gauge, items of removed notifiers)."""
        self._running = (stop, interval)
        self._start_loops()
        try:
            await self._every(stop, interval, functools.partial(self._housekeeping, None))
        finally:
            self._running = None
            await asyncio.gather(*self._loops.values(), return_exceptions=True)
            self._loops.clear()

    def _start_loops(self) -> None:
        if self._running is None:
            return
        stop, interval = self._running
        for name in self._by_name:
            t = self._loops.get(name)
            if t is None or t.done():
                self._loops[name] = asyncio.create_task(self._every(
                    stop, interval, functools.partial(self._drain, name, None), name))

    async def _every(self, stop: asyncio.Event, interval: float,
                     step: Callable[[], Awaitable[Any]], notifier: str | None = None) -> None:
        """``step`` every ``interval`` until ``stop`` (or until ``notifier`` is removed)."""
        while not stop.is_set() and (notifier is None or notifier in self._by_name):
            await step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def _drain(self, name: str, now: float | None) -> int:
        """Deliver ``name``'s due items in rounds; a round claims only as many as the notifier
        can send within half the lease even if every send runs into ``send_timeout``."""
        sent = 0
        for _ in range(100):  # bounded: a retry is always due later than ``now``
            notifier = self._by_name.get(name)
            if notifier is None:  # removed by a reload: its items wait (housekeeping warns)
                break
            limit = min(self._batch, self._limits[name] * self._rounds_per_lease)
            t = self._clock() if now is None else now
            try:
                items = await self.store.claim(name, t, limit, self._lease)
            except Exception as exc:  # noqa: BLE001 - storage down must not kill the worker
                self._store_error("claim", exc)
                break
            results = await asyncio.gather(*(self._deliver(i, t, notifier) for i in items))
            delivered = [i for i, ok in zip(items, results, strict=True) if ok]
            # One store call for the whole round: per-item calls would each hold a connection.
            await self._store_call("done", self.store.done(name, delivered))
            sent += len(delivered)
            if len(items) < limit:
                break
        return sent

    async def _housekeeping(self, now: float | None) -> None:
        """Update the depth gauge; warn about items waiting for notifiers this worker does not
        have (renamed or removed in the config, or a newer config on another worker during a
        rolling change): they stay queued, never dropped (``alerting outbox status``)."""
        try:
            depth = await self.store.depth()
        except Exception as exc:  # noqa: BLE001
            self._store_error("depth", exc)
            return
        for name in self._by_name:
            self._metrics.outbox_depth.labels(notifier=name).set(depth.get(name, 0))
        orphans = sorted(n for n, d in depth.items() if d > 0 and n not in self._by_name)
        if orphans:
            log.warning("outbox items wait for notifiers not configured here: %s",
                        ", ".join(orphans))

    async def depth(self) -> int:
        """Items (notification × notifier) waiting for delivery."""
        return sum((await self.store.depth()).values())

    async def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest dead-letter records: notification, notifier, reason, attempts, time."""
        return await self.store.dead_letters(limit)

    async def requeue_dead(self, limit: int = 100, now: float | None = None) -> int:
        """Give the oldest ``limit`` dead letters another round (after fixing a receiver's
        config or address): each goes back to its notifier, or, if that notifier is gone, to
        every current notifier of its receiver; attempts start again. Returns how many."""
        now = self._clock() if now is None else now
        done = 0
        for raw in await self.store.oldest_dead(limit):
            record = json.loads(raw)
            n = Notification.from_dict(record["notification"])
            if record["notifier"] in self._by_name:
                targets = [record["notifier"]]
            else:
                targets = [x.name for x in self._receivers.get(n.receiver, [])]
            if not targets:
                continue  # still nowhere to send it: it stays in the dead-letter list
            items = [self._item(n, t, now) for t in targets]
            done += await self.store.requeue(raw, items, now)
        await self._housekeeping(now)
        return done

    async def aclose(self) -> None:
        """Close every notifier (their own clients), current and replaced."""
        for n in [*self._by_name.values(), *self._retired]:
            try:
                await n.aclose()
            except Exception as exc:  # noqa: BLE001 - closing the rest matters more
                log.warning("closing notifier %s failed: %s", n.name, type(exc).__name__)

    async def _deliver(self, item: Item, now: float, notifier: Notifier) -> bool:
        name = item["notifier"]
        try:
            n = Notification.from_dict(item["notification"])
            async with self._sems[name]:
                await asyncio.wait_for(notifier.send(n), self._send_timeout)
        except PermanentNotifierError as exc:
            item["attempts"] += 1
            self._count(name, "failed", "permanent")
            await self._dead(item, now, str(exc))
            return False
        except RetryableNotifierError as exc:
            await self._retry(item, notifier, now, str(exc), getattr(exc, "retry_after", None))
            return False
        except TimeoutError:
            await self._retry(item, notifier, now, "send timed out", None)
            return False
        except Exception as exc:  # noqa: BLE001 - a notifier bug must not kill the worker
            log.exception("notifier %s raised unexpectedly", name)
            await self._retry(item, notifier, now, f"unexpected {type(exc).__name__}", None)
            return False
        self._count(name, "ok", None)
        self.stats["sent"] += 1
        return True

    async def _retry(self, item: Item, notifier: Notifier, now: float, reason: str,
                     retry_after: float | None) -> None:
        policy: RetryPolicy = getattr(notifier, "retry", self._default_retry)
        item["attempts"] += 1
        item["last_error"] = reason
        if item["attempts"] > policy.max_retries:
            self._count(notifier.name, "failed", "retryable")
            await self._dead(item, now, f"retries exhausted: {reason}")
            return
        self._count(notifier.name, "retry", "retryable")
        self.stats["retried"] += 1
        delay = policy.delay(item["attempts"], self._rng.random())
        if retry_after is not None:
            delay = max(delay, retry_after)
        log.info("notifier %s: %s; retry %d in %.1fs (notification %s)", notifier.name,
                 reason, item["attempts"], delay, item["nid"])
        await self._store_call("reschedule", self.store.reschedule(item, now + delay))

    async def _dead(self, item: Item, now: float, reason: str, forced: bool = False) -> None:
        record = {"notification": item["notification"], "notifier": item["notifier"],
                  "reason": reason, "attempts": item["attempts"], "at": now, "forced": forced}
        log.warning("notifier %s: dead-lettered notification %s: %s", item["notifier"],
                    item["nid"], reason)
        self._metrics.notification_dead_letters.labels(notifier=item["notifier"]).inc()
        self.stats["dead"] += 1
        await self._store_call("dead", self.store.dead(item, record))

    def _count(self, name: str, result: str, failure: str | None) -> None:
        self._metrics.notifications.labels(notifier=name, result=result).inc()
        if failure is not None:
            self._metrics.notifier_failures.labels(notifier=name, kind=failure).inc()

    async def _store_call(self, what: str, coro: Any) -> None:
        try:
            async with self._store_sem:
                await coro
        except Exception as exc:  # noqa: BLE001 - the item comes back after its lease
            self._store_error(what, exc)

    def _store_error(self, what: str, exc: Exception) -> None:
        self.stats["store_errors"] += 1
        log.error("outbox store %s failed: %s", what, type(exc).__name__)
