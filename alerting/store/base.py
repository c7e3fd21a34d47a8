"""The task store contract and the merge rule shared by every implementation.

A store holds the current version of each task. Two writers touch it: the engine's emissions
(``upsert_emitted``: new tasks and higher revisions with more evidence) and the lifecycle
(``save``: acknowledgement, resolution, escalation, reassignment). The merge keeps the
lifecycle fields of the stored task, so a late re-emission never reopens or reassigns a task.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Protocol

from alerting.tasks import Task

# Fields that come from the engine; everything else on a stored task belongs to the lifecycle.
EMITTED_FIELDS = ("title", "body", "evidence", "event_ids", "due_at", "due_ms", "revision",
                  "updated_at", "labels", "translations", "customer_tier")


class TaskStore(Protocol):
    """Durable task storage (Redis in production, memory in the embedded run and tests)."""

    async def upsert_emitted(self, task: Task) -> tuple[Task, bool]:
        """Insert a new task, or merge a higher revision's engine fields into the stored task,
        keeping its lifecycle fields (status, assignee, escalation, history). Revisions at or
        below the stored one are ignored. Returns (stored task, changed)."""
        ...

    async def get(self, task_id: str) -> Task:
        """The stored task; raises ``alerting.errors.TaskNotFound``."""
        ...

    async def save(self, task: Task) -> None:
        """Write a lifecycle update (ack, resolve, escalation, reassignment)."""
        ...

    async def update(self, task_id: str, change: Callable[[Task], Task | None]) -> Task:
        """Atomic read-modify-write: ``change`` gets the current task (a private copy) and
        returns the task to store, or None to leave it unchanged; it may raise to abort (and
        may be called more than once under contention). Returns the stored task; raises
        ``TaskNotFound``. Lifecycle code uses this so an acknowledgement and an escalation
        racing on one task never overwrite each other."""
        ...

    async def list(self, *, assignees: Collection[str] | None = None,
                   statuses: Collection[str] | None = None, rule_id: str | None = None,
                   since_ms: int | None = None, limit: int = 1000) -> list[Task]:
        """Tasks matching every given filter, sorted by (due_ms, -severity, task_id)."""
        ...

    async def list_open_due(self, before_ms: int) -> builtins.list[Task]:
        """Open (unacknowledged) tasks whose escalation clock ``escalate_at_ms`` is set and at or
        before ``before_ms`` (indexed in Redis, not a full scan)."""
        ...


SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def sort_key(task: Task) -> tuple[int, int, str]:
    """Order of task lists: due time first, then the most severe, then id (stable)."""
    return (task.due_ms, -SEVERITY_RANK.get(task.severity, 0), task.task_id)


def merge_emitted(stored: Task | None, incoming: Task) -> tuple[Task, bool]:
    """The upsert rule: returns (task to store, changed)."""
    if stored is None:
        return incoming, True
    if incoming.revision <= stored.revision:
        return stored, False
    fields = {name: getattr(incoming, name) for name in EMITTED_FIELDS}
    return replace(stored, **fields), True


def matches(task: Task, *, assignees: Collection[str] | None, statuses: Collection[str] | None,
            rule_id: str | None, since_ms: int | None) -> bool:
    """The filter of ``TaskStore.list`` (used by the memory store and Redis post-filtering)."""
    if assignees is not None and task.assignee_id not in assignees:
        return False
    if statuses is not None and task.status not in statuses:
        return False
    if rule_id is not None and task.rule_id != rule_id:
        return False
    return since_ms is None or task.created_ms >= since_ms
