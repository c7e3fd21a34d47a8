"""The dispatcher: from emitted tasks to stored, assigned, grouped notifications.

``handle(tasks)`` stores each emission (new tasks are placed first: assignee after absences,
workload cap, escalation clock), routes it through the tree and adds it to its notification
groups. ``tick(now)`` flushes groups whose wait elapsed, escalates overdue unacknowledged tasks,
re-notifies open ones every ``repeat_interval`` and sends the daily digest when due.

No Kafka or HTTP here: the Kafka worker calls it for each batch of the tasks topic, the
embedded run after the engine. Notifications go to the outbox (durable, deduplicating on the
deterministic ``notification_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from alerting.directory import DirectoryReader
from alerting.errors import AlertingError, TaskNotFound
from alerting.logs import log_escalation
from alerting.metrics import Metrics
from alerting.notifiers.base import Notification
from alerting.routing import render
from alerting.routing.assign import assign_owner, present
from alerting.routing.calendar import BusinessCalendar
from alerting.routing.digest import DigestScheduler
from alerting.routing.escalation import SYSTEM, EscalationPolicy
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.routing.tree import RouteOpts, group_key, match_routes
from alerting.routing.workload import WorkloadTracker
from alerting.store.base import TaskStore, sort_key
from alerting.store.lifecycle import history_entry
from alerting.tasks import Task
from alerting.timeutil import DAY, MINUTE, format_ts

log = logging.getLogger(__name__)

MAX_FLUSH_MEMORY = 10_000  # group flush times kept before old ones (> 1 day) are dropped
REPEAT_SCAN_MS = MINUTE  # open tasks are scanned for repeats at most this often
NOTIFIED = "notified"  # history action: a new task was handed to a receiver's outbox


def _notified_via(task: Task, receiver: str) -> bool:
    return any(h.get("action") == NOTIFIED and h.get("detail") == receiver
               for h in task.history)


class OutboxLike(Protocol):
    """What the dispatcher needs of ``alerting.notifiers.outbox.Outbox``."""

    async def enqueue(self, n: Notification) -> bool: ...


@dataclass
class _Group:
    opts: RouteOpts
    kind: str
    first_ms: int
    tasks: dict[str, Task] = field(default_factory=dict)


class Dispatcher:
    """Routing, grouping, escalation, repeats and digests over a task store and an outbox."""

    def __init__(self, routing: RoutingSpec, calendar: CalendarSpec | None,
                 directory: DirectoryReader, store: TaskStore, outbox: OutboxLike,
                 clock: Callable[[], float], metrics: Metrics | None = None,
                 default_locale: str = "zh") -> None:
        self.routing = routing
        self.calendar = BusinessCalendar(calendar)
        self.directory = directory
        self.store = store
        self.outbox = outbox
        self.clock = clock
        self.metrics = metrics
        self.default_locale = default_locale
        self.escalation = EscalationPolicy(routing.escalation, self.calendar)
        self.workload = WorkloadTracker(routing.workload, self.calendar, store)
        self.digest = DigestScheduler(routing.digest, self.calendar, default_locale)
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._last_flush: dict[tuple[Any, ...], int] = {}
        self._notified: dict[str, int] = {}  # task_id -> last notification (ms)
        self._last_repeat_scan: int | None = None
        self._recovered = False

    def swap_routing(self, routing: RoutingSpec, calendar: CalendarSpec | None) -> None:
        """A reloaded rules file: route, escalate, cap workloads and send digests by these
        sections from now on. Deadlines already set and groups already waiting (with their
        receivers) stay as they are; today's workload counts and digest are kept."""
        self.routing = routing
        self.calendar.update(calendar)
        self.escalation.spec = routing.escalation
        self.workload.spec = routing.workload
        self.digest.spec = routing.digest

    @property
    def tz(self) -> int:
        """The calendar's UTC offset in minutes (it may change on a rules reload)."""
        return self.calendar.offset_minutes

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---- intake ----------------------------------------------------------------------------

    async def handle(self, tasks: list[Task]) -> list[Task]:
        """Store, place, route and group a batch of emitted tasks; returns the stored versions
        that changed. Groups with no wait are flushed at once."""
        now = self._now_ms()
        out: list[Task] = []
        for task in tasks:
            stored, kind = await self._intake(task, now)
            if stored is None:
                continue
            out.append(stored)
            if kind == "update" and stored.status == "resolved":
                continue
            for opts in match_routes(self.routing.route, stored):
                self._add_to_group(opts, kind, stored, now)
        await self._flush(now)
        return out

    async def _intake(self, task: Task, now: int) -> tuple[Task | None, str]:
        try:
            await self.store.get(task.task_id)
            is_new = False
        except TaskNotFound:
            is_new = True
        if is_new:
            await self.place(task, now)
        stored, changed = await self.store.upsert_emitted(task)
        if not changed:
            return None, ""
        return stored, ("task" if is_new else "update")

    async def place(self, task: Task, now: int) -> None:
        """Assign a new task: owner (if the engine had none), absences, workload cap, clock."""
        if task.assignee_id is None:
            task.assignee_id, task.assignee_role = assign_owner(
                self.directory.customer(task.customer_id), None, self.directory)
        if task.assignee_id is not None:
            acting, passed = present(self.directory, task.assignee_id)
            if passed:
                m = self.directory.manager(acting)
                task.assignee_id, task.assignee_role = acting, (m.role if m else None)
                task.history.append(history_entry(
                    now, SYSTEM, "handover", f"{', '.join(passed)} absent", self.tz))
        await self.workload.place(task, self.directory, now, self.tz)
        task.history.append(history_entry(now, SYSTEM, "assigned", task.assignee_id or "",
                                          self.tz))
        task.escalate_at_ms = self.escalation.deadline(task, now)

    def _add_to_group(self, opts: RouteOpts, kind: str, task: Task, now: int) -> None:
        key = (kind, *group_key(opts, task))
        g = self._groups.get(key)
        if g is None:
            g = self._groups[key] = _Group(opts=opts, kind=kind, first_ms=now)
        g.tasks[task.task_id] = task

    # ---- periodic --------------------------------------------------------------------------

    async def tick(self, now: float | None = None) -> int:
        """Flush due groups, escalate, repeat, digest. ``now`` in seconds (default: the
        clock). Returns the number of notifications enqueued."""
        now_ms = self._now_ms() if now is None else int(now * 1000)
        if not self._recovered:
            await self._recover(now_ms)
        sent = await self._flush(now_ms)
        sent += await self._escalate(now_ms)
        sent += await self._repeat(now_ms)
        sent += await self._digest(now_ms)
        return sent

    async def flush_all(self) -> int:
        """Send every waiting group now, whatever its ``group_wait`` (end of a batch run)."""
        return await self._flush(self._now_ms(), force=True)

    async def _flush(self, now: int, *, force: bool = False) -> int:
        sent = 0
        for key, g in list(self._groups.items()):
            last = self._last_flush.get(key)
            due = g.first_ms + g.opts.group_wait_ms
            if last is not None:
                due = max(due, last + g.opts.group_interval_ms)
            if now < due and not force:
                continue
            del self._groups[key]
            self._last_flush[key] = now
            if len(self._last_flush) > MAX_FLUSH_MEMORY:
                self._last_flush = {k: v for k, v in self._last_flush.items()
                                    if now - v < DAY}
            tasks = sorted(g.tasks.values(), key=sort_key)
            n = self._notification(g.opts.receiver or "", g.kind, tasks, now,
                                   [t.dedup_key for t in tasks])
            sent += await self._send(n, tasks, now)
            if g.kind == "task":
                await self._mark_notified(tasks, g.opts.receiver or "", now)
        return sent

    async def _mark_notified(self, tasks: list[Task], receiver: str, now: int) -> None:
        """Record on each task that ``receiver`` was told, so a restarted dispatcher can tell
        which new tasks were still waiting in a group when the process died."""
        def change(t: Task) -> Task | None:
            if _notified_via(t, receiver):
                return None
            t.history.append(history_entry(now, SYSTEM, NOTIFIED, receiver, self.tz))
            return t

        for task in tasks:
            try:
                await self.store.update(task.task_id, change)
            except TaskNotFound:
                continue

    async def _recover(self, now: int) -> None:
        """After a restart: open tasks that were assigned but never notified through one of
        their routes go back into their groups."""
        self._recovered = True
        if not self.routing.receivers:
            return
        for task in await self.store.list(statuses=["open"], limit=1_000_000):
            if not any(h.get("action") == "assigned" for h in task.history):
                continue
            for opts in match_routes(self.routing.route, task):
                if not _notified_via(task, opts.receiver or ""):
                    self._add_to_group(opts, "task", task, now)

    async def _escalate(self, now: int) -> int:
        if self.routing.escalation is None:
            return 0
        sent = 0
        for due in await self.store.list_open_due(now):
            done = await self._escalate_one(due, now)
            if done is None:
                continue
            task, previous = done
            if self.metrics is not None:
                self.metrics.escalations.labels(level=str(task.escalation_level)).inc()
            log_escalation(log, task, level=task.escalation_level, from_id=previous,
                           to_id=task.assignee_id)
            for opts in match_routes(self.routing.route, task):
                n = self._notification(
                    opts.receiver or "", "escalation", [task], now,
                    [f"{task.task_id}:{task.escalation_level}"],
                    text=render.escalation_text(task, self._locale(task.assignee_id), previous))
                sent += await self._send(n, [task], now)
        return sent

    async def _escalate_one(self, due: Task, now: int) -> tuple[Task, str] | None:
        """Escalate one task atomically; None if it was acknowledged (or escalated) meanwhile
        or nobody is above the assignee."""
        previous: list[str | None] = []

        def change(t: Task) -> Task | None:
            # re-checked on the fresh task: an acknowledgement that won the race wins
            previous.clear()
            if (t.status != "open" or t.escalate_at_ms is None or t.escalate_at_ms > now
                    or t.escalation_level != due.escalation_level):
                return None
            previous.append(self.escalation.escalate(t, self.directory, now, self.tz))
            return t

        try:
            task = await self.store.update(due.task_id, change)
        except TaskNotFound:
            return None
        if not previous or previous[0] is None:
            return None
        return task, previous[0]

    async def _repeat(self, now: int) -> int:
        if not self.routing.receivers:
            return 0
        if self._last_repeat_scan is not None and now - self._last_repeat_scan < REPEAT_SCAN_MS:
            return 0
        self._last_repeat_scan = now
        buckets: dict[tuple[str, ...], tuple[RouteOpts, list[Task]]] = {}
        open_tasks = await self.store.list(statuses=["open"], limit=1_000_000)
        # forget tasks that are no longer open so the map stays bounded
        open_ids = {t.task_id for t in open_tasks}
        self._notified = {k: v for k, v in self._notified.items() if k in open_ids}
        for task in open_tasks:
            last = self._notified.setdefault(task.task_id, now)
            for opts in match_routes(self.routing.route, task):
                if now - last >= opts.repeat_interval_ms:
                    buckets.setdefault(group_key(opts, task), (opts, []))[1].append(task)
        sent = 0
        for opts, tasks in buckets.values():
            tasks.sort(key=sort_key)
            keys = [f"{t.task_id}@{self._notified[t.task_id]}" for t in tasks]
            n = self._notification(opts.receiver or "", "repeat", tasks, now, keys)
            sent += await self._send(n, tasks, now)
        return sent

    async def _digest(self, now: int) -> int:
        day = self.digest.due_day(now)
        if day is None:
            return 0
        sent = 0
        for n in await self.digest.build(self.store, self.directory, day, now):
            sent += int(await self.outbox.enqueue(n))
        self.digest.last_day = day
        return sent

    # ---- notifications ---------------------------------------------------------------------

    def _locale(self, manager_id: str | None) -> str:
        m = self.directory.manager(manager_id) if manager_id else None
        return m.locale if m is not None and m.locale else self.default_locale

    def _notification(self, receiver: str, kind: str, tasks: list[Task], now: int,
                      keys: list[str], text: str | None = None) -> Notification:
        assignees = {t.assignee_id for t in tasks}
        recipient = assignees.pop() if len(assignees) == 1 else None
        m = self.directory.manager(recipient) if recipient else None
        locale = self._locale(recipient)
        return Notification(
            notification_id=render.notification_id(receiver, kind, keys),
            receiver=receiver, kind=kind, recipient_id=recipient,
            recipient_name=(m.name if m is not None and m.name else recipient or receiver),
            recipient_email=m.email if m is not None else None, locale=locale,
            title=render.group_title(kind, tasks, locale),
            text=text if text is not None else render.group_text(kind, tasks, locale),
            tasks=tuple(t.to_dict() for t in tasks), created_at=format_ts(now, self.tz))

    async def _send(self, n: Notification, tasks: list[Task], now: int) -> int:
        for t in tasks:
            self._notified[t.task_id] = now
        return int(await self.outbox.enqueue(n))

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Call ``tick`` every ``interval`` seconds until ``stop`` is set. A failing tick (e.g.
        Redis briefly down) is logged and retried on the next round, never fatal."""
        while not stop.is_set():
            try:
                await self.tick()
            except AlertingError as e:
                log.warning("dispatcher tick failed: %s", type(e).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    @property
    def pending_groups(self) -> int:
        """Groups waiting for their ``group_wait`` (for health pages and tests)."""
        return len(self._groups)
