"""The daily digest (日程表): at a configured local time, each manager with open or
acknowledged tasks gets one notification listing them by due time, then severity.

The notification id is deterministic per receiver, manager and local day, so a restarted
dispatcher (or two of them) never sends a second digest for the same day: the outbox dedups.
"""

from __future__ import annotations

from alerting.directory import DirectoryReader
from alerting.notifiers.base import Notification
from alerting.routing import render
from alerting.routing.calendar import BusinessCalendar
from alerting.routing.spec import DigestSpec
from alerting.store.base import TaskStore, sort_key
from alerting.tasks import Task
from alerting.timeutil import MINUTE, format_ts


class DigestScheduler:
    """Decides when the day's digest is due and builds the notifications."""

    def __init__(self, spec: DigestSpec | None, calendar: BusinessCalendar,
                 default_locale: str = "zh") -> None:
        self.spec = spec
        self.calendar = calendar
        self.default_locale = default_locale
        self.last_day: int | None = None

    def due_day(self, now_ms: int) -> int | None:
        """The local day whose digest is due at ``now_ms`` and not yet sent, else None."""
        if self.spec is None:
            return None
        day = self.calendar.local_day(now_ms)
        if day == self.last_day:
            return None
        if now_ms < self.calendar.day_start_ms(day) + self.spec.at_minutes * MINUTE:
            return None
        if self.spec.business_days_only and not self.calendar.is_working_day(day):
            return None
        return day

    async def build(self, store: TaskStore, directory: DirectoryReader, day: int,
                    now_ms: int) -> list[Notification]:
        """One digest notification per manager with tasks (none for managers without)."""
        assert self.spec is not None
        statuses = ["open", "acknowledged"] if self.spec.include_acknowledged else ["open"]
        by_assignee: dict[str, list[Task]] = {}
        for t in await store.list(statuses=statuses, limit=1_000_000):
            if t.assignee_id:
                by_assignee.setdefault(t.assignee_id, []).append(t)
        date_s = self.calendar.local_date(now_ms).isoformat()
        created = format_ts(now_ms, self.calendar.offset_minutes)
        out = []
        for manager_id in sorted(by_assignee):
            tasks = sorted(by_assignee[manager_id], key=sort_key)
            out.append(self._one(manager_id, tasks, directory, date_s, created))
        return out

    def _one(self, manager_id: str, tasks: list[Task], directory: DirectoryReader,
             date_s: str, created: str) -> Notification:
        assert self.spec is not None
        m = directory.manager(manager_id)
        locale = m.locale if m is not None and m.locale else self.default_locale
        return Notification(
            notification_id=f"{self.spec.receiver}:digest:{manager_id}:{date_s}",
            receiver=self.spec.receiver, kind="digest", recipient_id=manager_id,
            recipient_name=(m.name if m is not None and m.name else manager_id),
            recipient_email=m.email if m is not None else None, locale=locale,
            title=render.digest_title(date_s, tasks, locale),
            text=render.digest_text(tasks, locale),
            tasks=tuple(t.to_dict() for t in tasks), created_at=created)

