"""Per-manager daily workload cap: once a manager has ``max_per_day`` new tasks in a local day,
further tasks go to their supervisor's queue (after absences), with the reason in the history.

Counts live in memory per (manager, local day) and are seeded from the store the first time a
manager is seen that day, so a restarted dispatcher keeps counting where it left off.
"""

from __future__ import annotations

from alerting.directory import DirectoryReader
from alerting.routing.assign import present
from alerting.routing.calendar import BusinessCalendar
from alerting.routing.spec import WorkloadSpec
from alerting.store.base import TaskStore
from alerting.store.lifecycle import history_entry
from alerting.tasks import Task

SYSTEM = "system"


class WorkloadTracker:
    """Counts new tasks per manager per local day and redirects overflow."""

    def __init__(self, spec: WorkloadSpec | None, calendar: BusinessCalendar,
                 store: TaskStore) -> None:
        self.spec = spec
        self.calendar = calendar
        self.store = store
        self._counts: dict[tuple[str, int], int] = {}

    async def count(self, manager_id: str, now_ms: int) -> int:
        """New tasks assigned to ``manager_id`` so far in the local day of ``now_ms``."""
        day = self.calendar.local_day(now_ms)
        key = (manager_id, day)
        if key not in self._counts:
            # forget earlier days so the dict stays bounded
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= day}
            seeded = await self.store.list(assignees=[manager_id],
                                           since_ms=self.calendar.day_start_ms(day))
            self._counts[key] = len(seeded)
        return self._counts[key]

    async def place(self, task: Task, directory: DirectoryReader, now_ms: int,
                    tz: int = 0) -> bool:
        """Count ``task`` against its assignee, or move it to the supervisor's queue if the
        assignee is full. Returns True if the task was redirected."""
        if self.spec is None or task.assignee_id is None:
            return False
        owner = task.assignee_id
        n = await self.count(owner, now_ms)
        if n < self.spec.max_per_day:
            self._counts[(owner, self.calendar.local_day(now_ms))] = n + 1
            return False
        m = directory.manager(owner)
        if m is None or not m.supervisor_id or directory.manager(m.supervisor_id) is None:
            return False  # nobody to overflow to: the owner keeps it
        target, _ = present(directory, m.supervisor_id)
        sup = directory.manager(target)
        task.assignee_id = target
        task.assignee_role = sup.role if sup is not None else None
        task.history.append(history_entry(
            now_ms, SYSTEM, "overflow",
            f"{owner} reached the daily cap of {self.spec.max_per_day} tasks", tz))
        return True
