"""EscalationPolicy in isolation: deadlines per severity, business time and its per-rule
override, the top of the hierarchy."""

from __future__ import annotations

from collections.abc import Callable

from alerting.directory import Directory
from alerting.routing.calendar import BusinessCalendar
from alerting.routing.escalation import EscalationPolicy
from alerting.routing.spec import CalendarSpec, EscalationSpec
from alerting.tasks import Task
from alerting.timeutil import DAY, HOUR, MINUTE

FRIDAY_17 = 1_790_560_800_000 + 4 * DAY + 7 * HOUR  # 2026-10-02 17:00 +08:00 (Friday)


def policy(**kw: object) -> EscalationPolicy:
    return EscalationPolicy(EscalationSpec.model_validate(kw),
                            BusinessCalendar(CalendarSpec(working_hours=["09:00-17:30"])))


def test_deadlines_per_severity(make_task: Callable[..., Task]) -> None:
    p = policy()
    assert p.deadline(make_task(severity="critical"), 0) == 30 * MINUTE
    assert p.deadline(make_task(severity="low"), 0) == 3 * DAY
    assert p.deadline(make_task(severity="info"), 0) is None
    assert p.deadline(make_task(escalation_level=3), 0) is None
    assert EscalationPolicy(None, BusinessCalendar()).deadline(make_task(), 0) is None


def test_business_time_and_rule_override(make_task: Callable[..., Task]) -> None:
    p = policy(business_time=True)
    monday_1030 = FRIDAY_17 + 3 * DAY - 6 * HOUR - 30 * MINUTE
    assert p.deadline(make_task(), FRIDAY_17) == monday_1030  # 2h: 30m Fri + 90m Mon
    assert p.deadline(make_task(labels={"business_time": "false"}), FRIDAY_17) == \
        FRIDAY_17 + 2 * HOUR
    assert policy().deadline(make_task(labels={"business_time": "true"}), FRIDAY_17) == \
        monday_1030


def test_top_of_hierarchy_stops_clock(make_task: Callable[..., Task],
                                      directory: Directory) -> None:
    p = policy()
    t = make_task(assignee_id="p1", escalate_at_ms=5)
    assert p.escalate(t, directory, 10) is None
    assert t.escalate_at_ms is None and t.assignee_id == "p1"
    assert t.history[-1]["action"] == "escalation_stopped"
