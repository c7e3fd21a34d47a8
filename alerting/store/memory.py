"""In-memory task store: the embedded run and unit tests. Same behaviour as the Redis store."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection

from alerting.errors import TaskNotFound
from alerting.store.base import matches, merge_emitted, sort_key
from alerting.tasks import Task


class MemoryTaskStore:
    """Tasks in a dict. Copies go in and out so callers cannot mutate the stored version."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    async def upsert_emitted(self, task: Task) -> tuple[Task, bool]:
        """See ``TaskStore.upsert_emitted``."""
        stored = self._tasks.get(task.task_id)
        merged, changed = merge_emitted(stored, task)
        if changed:
            self._tasks[task.task_id] = _copy(merged)
        return _copy(merged), changed

    async def get(self, task_id: str) -> Task:
        """See ``TaskStore.get``."""
        t = self._tasks.get(task_id)
        if t is None:
            raise TaskNotFound(task_id)
        return _copy(t)

    async def save(self, task: Task) -> None:
        """See ``TaskStore.save``."""
        self._tasks[task.task_id] = _copy(task)

    async def update(self, task_id: str, change: Callable[[Task], Task | None]) -> Task:
        """See ``TaskStore.update``."""
        current = await self.get(task_id)
        new = change(current)
        if new is None:
            return current
        self._tasks[task_id] = _copy(new)
        return _copy(new)

    async def list(self, *, assignees: Collection[str] | None = None,
                   statuses: Collection[str] | None = None, rule_id: str | None = None,
                   since_ms: int | None = None, limit: int = 1000) -> list[Task]:
        """See ``TaskStore.list``."""
        out = [t for t in self._tasks.values()
               if matches(t, assignees=assignees, statuses=statuses, rule_id=rule_id,
                          since_ms=since_ms)]
        out.sort(key=sort_key)
        return [_copy(t) for t in out[:limit]]

    async def list_open_due(self, before_ms: int) -> builtins.list[Task]:
        """See ``TaskStore.list_open_due``."""
        out = [t for t in self._tasks.values() if t.status == "open"
               and t.escalate_at_ms is not None and t.escalate_at_ms <= before_ms]
        out.sort(key=sort_key)
        return [_copy(t) for t in out]

    def __len__(self) -> int:
        return len(self._tasks)


def _copy(t: Task) -> Task:
    return Task.from_json(t.to_json())
