"""The task lifecycle: who may see a task, acknowledgement and resolution.

A manager sees the tasks assigned to them and to everyone they supervise, transitively.
Acknowledging stops the escalation clock (the task leaves the open state and its
``escalate_at_ms`` is cleared). Times recorded here come from the injected clock (the wall clock
in production), rendered ISO-8601 with offset.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from alerting.directory import DirectoryReader, Manager
from alerting.errors import Forbidden
from alerting.metrics import Metrics
from alerting.store.base import TaskStore, sort_key
from alerting.tasks import OUTCOMES, Task
from alerting.timeutil import format_ts

MAX_NOTE_LEN = 4000


class InvalidTransition(Forbidden):
    """The requested change does not fit the task's status (e.g. resolving twice)."""


class InvalidOutcome(Forbidden):
    """The outcome is not one of ``alerting.tasks.OUTCOMES``."""


def history_entry(at_ms: int, by: str, action: str, detail: str = "",
                  tz: int = 0) -> dict[str, Any]:
    """One ``Task.history`` entry: {"at", "by", "action", "detail"}."""
    return {"at": format_ts(at_ms, tz), "by": by, "action": action, "detail": detail}


def subordinates(directory: DirectoryReader, viewer_id: str) -> set[str]:
    """Everyone below ``viewer_id`` in the hierarchy, if the directory can enumerate managers
    (``Directory.managers``); cycle-safe."""
    managers: dict[str, Manager] | None = getattr(directory, "managers", None)
    if not isinstance(managers, dict):
        return set()
    children: dict[str, list[str]] = {}
    for m in managers.values():
        if m.supervisor_id:
            children.setdefault(m.supervisor_id, []).append(m.manager_id)
    out: set[str] = set()
    stack = [viewer_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in out and child != viewer_id:
                out.add(child)
                stack.append(child)
    return out


def supervises(directory: DirectoryReader, viewer_id: str, assignee_id: str | None) -> bool:
    """True if ``viewer_id`` is ``assignee_id`` or above them in the chain (cycle-safe)."""
    if assignee_id is None:
        return False
    seen: set[str] = set()
    cur: str | None = assignee_id
    while cur is not None and cur not in seen:
        if cur == viewer_id:
            return True
        seen.add(cur)
        m = directory.manager(cur)
        cur = m.supervisor_id if m is not None else None
    return False


class TaskService:
    """Lifecycle operations on behalf of a viewer (a manager id)."""

    def __init__(self, store: TaskStore, directory: DirectoryReader,
                 clock: Callable[[], float], metrics: Metrics | None = None,
                 tz_minutes: int = 0) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.metrics = metrics
        self.tz = tz_minutes

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def visible_assignees(self, viewer_id: str) -> set[str]:
        """The viewer and everyone they supervise, transitively."""
        return {viewer_id} | subordinates(self.directory, viewer_id)

    def can_view(self, viewer_id: str, task: Task) -> bool:
        """Whether ``viewer_id`` may read and act on ``task``."""
        return supervises(self.directory, viewer_id, task.assignee_id)

    async def list_for(self, viewer_id: str, *, statuses: Collection[str] | None = None,
                       limit: int = 1000) -> list[Task]:
        """The tasks the viewer may see, sorted by due time, then severity (most severe first)."""
        assignees = self.visible_assignees(viewer_id)
        tasks = await self.store.list(assignees=assignees, statuses=statuses, limit=limit)
        tasks.sort(key=sort_key)
        return tasks

    async def get_for(self, viewer_id: str, task_id: str) -> Task:
        """One task; ``Forbidden`` if the viewer may not see it, ``TaskNotFound`` if absent."""
        task = await self.store.get(task_id)
        self._check(viewer_id, task)
        return task

    def _check(self, viewer_id: str, task: Task) -> None:
        if not self.can_view(viewer_id, task):
            raise Forbidden("task not visible to this manager")

    def _observe_ack(self, task: Task, now: int) -> None:
        if self.metrics is not None and task.created_ms:
            self.metrics.ack_latency.labels(rule=task.rule_id).observe(
                max(0.0, (now - task.created_ms) / 1000))

    async def acknowledge(self, viewer_id: str, task_id: str, note: str | None = None) -> Task:
        """Acknowledge an open task: stops the escalation clock, records history and the
        acknowledgement latency. Acknowledging an acknowledged task is a no-op."""
        now = self._now_ms()
        acked: list[Task] = []

        def change(task: Task) -> Task | None:
            acked.clear()
            self._check(viewer_id, task)
            if task.status == "acknowledged":
                return None
            if task.status != "open":
                raise InvalidTransition(f"task is {task.status}, cannot acknowledge")
            task.status = "acknowledged"
            task.acknowledged_at = format_ts(now, self.tz)
            task.escalate_at_ms = None
            if note:
                task.note = note[:MAX_NOTE_LEN]
            task.history.append(history_entry(now, viewer_id, "acknowledged", _clip(note),
                                              self.tz))
            acked.append(task)
            return task

        task = await self.store.update(task_id, change)
        if acked:
            self._observe_ack(task, now)
        return task

    async def resolve(self, viewer_id: str, task_id: str, outcome: str,
                      note: str | None = None) -> Task:
        """Resolve a task with an outcome (one of ``OUTCOMES``) and an optional follow-up note.
        An open task is acknowledged implicitly (the escalation clock stops)."""
        if outcome not in OUTCOMES:
            raise InvalidOutcome("outcome must be one of " + ", ".join(OUTCOMES))
        now = self._now_ms()
        was_open: list[bool] = []

        def change(task: Task) -> Task:
            was_open.clear()
            self._check(viewer_id, task)
            if task.status == "resolved":
                raise InvalidTransition("task is already resolved")
            was_open.append(task.status == "open")
            if task.acknowledged_at is None:
                task.acknowledged_at = format_ts(now, self.tz)
            task.status = "resolved"
            task.outcome = outcome
            task.resolved_at = format_ts(now, self.tz)
            task.escalate_at_ms = None
            if note:
                task.note = note[:MAX_NOTE_LEN]
            task.history.append(history_entry(now, viewer_id, "resolved", outcome, self.tz))
            return task

        task = await self.store.update(task_id, change)
        if was_open and was_open[0]:
            self._observe_ack(task, now)
        return task

    async def get(self, task_id: str) -> Task:
        """Unchecked read (operators' CLI without ``--as``); raises ``TaskNotFound``."""
        return await self.store.get(task_id)


def _clip(note: str | None) -> str:
    return (note or "")[:200]
