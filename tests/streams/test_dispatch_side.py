"""The dispatch side of a worker takes the calendar of a reloaded rules file: next year's
holidays count without a restart (real Redis under the dispatcher's store and outbox). The
routing change end to end, through a running worker: ``test_reload.py``."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
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


@pytest.mark.integration
async def test_a_commit_refused_after_a_rebalance_does_not_stop_dispatching(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chaos test once saw a worker die of ``CommitFailedError`` (its dispatch group had
    rebalanced while a batch was handled, as another worker was killed). On the real broker,
    the first commit is refused with that error (injected at the aiokafka call: when a
    rebalance lands between the fetch and the commit cannot be timed from a test): the loop
    logs it and goes on, and the next batch is handled and committed."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import CommitFailedError

    from alerting.streams.dispatch import consume
    from alerting.streams.topics import ensure_topics

    from .conftest import produce, wait_for

    real_commit = AIOKafkaConsumer.commit
    refused: list[int] = []

    async def commit_once_refused(self: AIOKafkaConsumer, *args: Any, **kw: Any) -> None:
        if not refused:
            refused.append(1)
            raise CommitFailedError("the group has already rebalanced")
        await real_commit(self, *args, **kw)
    monkeypatch.setattr(AIOKafkaConsumer, "commit", commit_once_refused)

    handled: list[str] = []

    class Recorder:
        async def handle(self, tasks: list[Task]) -> None:
            handled.extend(t.task_id for t in tasks)

    def task_json(task_id: str) -> bytes:
        return Task(task_id=task_id, rule_id="r", severity="low", customer_id="C1", title="t",
                    body="b", evidence={}, event_ids=[], created_at="2025-01-01T00:00:00+08:00",
                    due_at="2025-01-02T00:00:00+08:00").to_json()

    await ensure_topics(settings)
    stop = asyncio.Event()
    loop = asyncio.create_task(consume(settings, Recorder(), stop))
    try:
        await produce(settings.kafka_bootstrap, settings.topic_tasks, [(b"t1", task_json("t1"))])

        async def first() -> bool:
            assert not loop.done(), loop
            return bool(refused) and handled == ["t1"]
        await wait_for(first, 30, "the first batch handled and its commit refused")
        await produce(settings.kafka_bootstrap, settings.topic_tasks, [(b"t2", task_json("t2"))])

        async def second() -> bool:
            assert not loop.done(), loop
            return "t2" in handled
        await wait_for(second, 30, "the next batch handled")
    finally:
        stop.set()
        await loop
    assert handled == ["t1", "t2"]
