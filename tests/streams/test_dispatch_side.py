"""The dispatch side of a worker takes the calendar of a reloaded rules file: next year's
holidays count without a restart (real Redis under the dispatcher's store and outbox). The
routing change end to end, through a running worker: ``test_reload.py``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerting.directory import Directory
from alerting.metrics import Metrics
from alerting.ops import LiveRules
from alerting.rules.loader import load_rules
from alerting.settings import Settings
from alerting.streams.dispatch import DispatchSide
from alerting.tasks import Task
from alerting.timeutil import HOUR, from_datetime, to_datetime

RULES = Path(__file__).resolve().parents[2] / "alerting" / "data" / "rules.yaml"


def high_task(created_ms: int) -> Task:
    return Task(task_id="t-ny", rule_id="large-withdrawal", severity="high", customer_id="C1",
                title="t", body="b", evidence={}, event_ids=["e1"],
                created_at=to_datetime(created_ms, 480).isoformat(),
                due_at=to_datetime(created_ms + HOUR, 480).isoformat(),
                created_ms=created_ms, due_ms=created_ms + HOUR)


async def test_a_reload_brings_next_years_holidays_to_the_dispatcher(
        settings: Settings, redis: aioredis.Redis, tmp_path: Path) -> None:
    live = LiveRules(load_rules(RULES))
    side = DispatchSide(settings, live.ruleset, Directory(), redis, Metrics(CollectorRegistry()))
    await side.start()
    live.on_apply(side.prepare_rules)  # as run_dispatch and the faust service wire it
    try:
        # a high task at 16:00 on the last working day of 2026: 2 working hours to acknowledge,
        # 1.5 of them that day (to 17:30), the last half hour on the next working day
        start = from_datetime(datetime.fromisoformat("2026-12-31T16:00:00+08:00"))
        task = high_task(start)
        deadline = side.dispatcher.escalation.deadline(task, start)
        assert to_datetime(deadline, 480).isoformat() == "2027-01-01T09:30:00+08:00"
        newer = tmp_path / "rules.yaml"
        newer.write_text(RULES.read_text(encoding="utf-8").replace(
            "2026-10-07]", "2026-10-07, 2027-01-01]"), encoding="utf-8")
        live.apply(load_rules(newer))  # what the reloader does on a good edit
        deadline = side.dispatcher.escalation.deadline(task, start)
        assert to_datetime(deadline, 480).isoformat() == "2027-01-04T09:30:00+08:00"  # Monday
        assert side.dispatcher.workload.calendar is side.dispatcher.calendar
    finally:
        await side.close()
