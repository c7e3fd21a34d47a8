"""Acknowledgement deadlines and escalation up the hierarchy.

A task's escalation clock (``Task.escalate_at_ms``) is set when it is assigned: the ack
deadline of its severity, counted in business time when ``escalation.business_time`` is on
(a rule overrides that with the label ``business_time: "true"`` or ``"false"``).
When the clock passes and the task is still open, it moves to the assignee's supervisor (or
whoever covers for them), one level up (manager → supervisor → branch VP → president), and
the clock restarts, until ``max_level``. Acknowledging clears the clock (``TaskService``).
"""

from __future__ import annotations

from alerting.directory import DirectoryReader
from alerting.routing.assign import present
from alerting.routing.calendar import BusinessCalendar
from alerting.routing.spec import EscalationSpec
from alerting.store.lifecycle import history_entry
from alerting.tasks import Task

SYSTEM = "system"


class EscalationPolicy:
    """Deadlines and the escalation step for one ``EscalationSpec`` (None = off)."""

    def __init__(self, spec: EscalationSpec | None, calendar: BusinessCalendar) -> None:
        self.spec = spec
        self.calendar = calendar

    def deadline(self, task: Task, from_ms: int) -> int | None:
        """When ``task`` escalates if not acknowledged, counting from ``from_ms``; None if the
        severity has no deadline, escalation is off, or the task is at ``max_level``."""
        spec = self.spec
        if spec is None or task.escalation_level >= spec.max_level:
            return None
        duration = spec.ack_deadline.get(task.severity)
        if duration is None:
            return None
        if self.uses_business_time(task):
            return self.calendar.add_business_time(from_ms, duration)
        return from_ms + duration

    def uses_business_time(self, task: Task) -> bool:
        """``escalation.business_time``, unless the rule says otherwise with the task label
        ``business_time: "true"`` / ``"false"``."""
        flag = task.labels.get("business_time", "").strip().lower()
        if flag in ("true", "yes", "1"):
            return True
        if flag in ("false", "no", "0"):
            return False
        return self.spec is not None and self.spec.business_time

    def next_assignee(self, task: Task, directory: DirectoryReader) -> str | None:
        """The supervisor of the current assignee (after absences), or None at the top."""
        if task.assignee_id is None:
            return None
        m = directory.manager(task.assignee_id)
        if m is None or not m.supervisor_id or directory.manager(m.supervisor_id) is None:
            return None
        who, _ = present(directory, m.supervisor_id)
        return None if who == task.assignee_id else who

    def escalate(self, task: Task, directory: DirectoryReader, now_ms: int,
                 tz: int = 0) -> str | None:
        """Escalate an overdue open task in place. Returns the previous assignee, or None if
        there is nobody above (the clock is then cleared and the reason recorded)."""
        previous = task.assignee_id
        target = self.next_assignee(task, directory)
        if target is None:
            task.escalate_at_ms = None
            task.history.append(history_entry(now_ms, SYSTEM, "escalation_stopped",
                                              "no supervisor above the assignee", tz))
            return None
        m = directory.manager(target)
        task.assignee_id = target
        task.assignee_role = m.role if m is not None else None
        task.escalation_level += 1
        task.escalate_at_ms = self.deadline(task, now_ms)
        task.history.append(history_entry(
            now_ms, SYSTEM, "escalated",
            f"level {task.escalation_level}: not acknowledged in time by {previous}", tz))
        return previous
