"""The managers topic, read at a worker's start and followed while it runs."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerting.directory import Directory, Manager
from alerting.metrics import Metrics
from alerting.sample import generate
from alerting.settings import Settings
from alerting.streams.app import rules_engine_factory
from alerting.streams.directory import save_directory
from alerting.streams.managers import ManagerFollower, apply_manager, load
from alerting.streams.topics import ensure_topics, new_consumer, partition_of, start_kafka

from .conftest import RULES, produce, produce_events, running_worker, tasks_topic, wait_for


def _wire(m: Manager) -> bytes:
    return orjson.dumps(dataclasses.asdict(m))  # as `alerting directory load --kafka` sends it


def test_apply_manager_puts_replaces_removes_and_skips(caplog: pytest.LogCaptureFixture) -> None:
    d = Directory(managers={"M1": Manager("M1", name="王芳")})
    assert apply_manager(d, b"M1", _wire(Manager("M1", name="王芳", absent=True))) == "applied"
    assert d.managers["M1"].absent
    assert apply_manager(d, b"M2", _wire(Manager("M2", role="supervisor"))) == "applied"
    assert d.managers["M2"].role == "supervisor"
    assert apply_manager(d, b"M2", None) == "removed"  # a tombstone
    assert "M2" not in d.managers
    assert apply_manager(d, None, None) == "malformed"
    with caplog.at_level(logging.WARNING, "alerting.worker"):
        for bad in (b"{", b"[]", b'{"name": "\\u674e\\u56db"}', b'{"manager_id": "M1", '
                    b'"name": "\\u674e\\u56db", "role": "teller"}'):
            assert apply_manager(d, b"M1", bad) == "malformed"
    assert d.managers["M1"] == Manager("M1", name="王芳", absent=True)  # unchanged
    assert "李四" not in caplog.text and "malformed manager record" in caplog.text


@pytest.mark.integration
async def test_an_absence_published_while_running_hands_the_next_task_to_the_delegate(
        settings: Settings, redis: aioredis.Redis) -> None:
    """A manager marked absent on the topic after the worker started: the task of one of
    their customers that comes after it goes to the delegate, without a restart; a task
    before it went to the manager."""
    data = generate(60, 5, seed=2)
    s = settings.model_copy(update={"rules_path": RULES})
    mgr = next(m for m in data.managers if m.role == "account_manager")
    delegate = next(m for m in data.managers
                    if m.role == "account_manager" and m.manager_id != mgr.manager_id)
    # general tier (assets 100,000: large amount 50,000; the customer's manager owns tasks)
    mine = [dataclasses.replace(c, assets=100_000, tier=None)
            for c in data.customers if c.manager_id == mgr.manager_id][:2]
    assert len(mine) == 2
    await save_directory(redis, s.redis_prefix, mine, [])
    await ensure_topics(s)
    await produce(s.kafka_bootstrap, s.topic_managers,
                  [(m.manager_id.encode(), _wire(m)) for m in data.managers])

    def withdrawal(cid: str, eid: str) -> dict[str, Any]:
        return {"event_id": eid, "type": "transaction", "customer_id": cid, "account_id": "A",
                "ts": "2025-03-02T10:00:00+08:00", "kind": "withdrawal", "amount": "60000.00",
                "channel": "counter"}

    async def assignee(cid: str) -> str | None:
        got = [orjson.loads(v) for v in await tasks_topic(s)]
        return next((t["assignee_id"] for t in got if t["customer_id"] == cid), None)

    async with running_worker(s, redis, rules_engine_factory(s)) as w:
        assert w.directory.manager(mgr.manager_id) == mgr  # read at the start
        await produce_events(s, [withdrawal(mine[0].customer_id, "x1")])

        async def first_task() -> bool:
            return await assignee(mine[0].customer_id) is not None
        await wait_for(first_task, 30, "the first task")
        assert await assignee(mine[0].customer_id) == mgr.manager_id

        away = dataclasses.replace(mgr, absent=True, delegate_id=delegate.manager_id)
        assert w.follower is not None
        before = w.follower.applied
        await produce(s.kafka_bootstrap, s.topic_managers, [(mgr.manager_id.encode(),
                                                             _wire(away))])

        async def followed() -> bool:
            return w.follower is not None and w.follower.applied > before
        await wait_for(followed, 30, "the absence applied")
        await produce_events(s, [withdrawal(mine[1].customer_id, "x2")])

        async def second_task() -> bool:
            return await assignee(mine[1].customer_id) is not None
        await wait_for(second_task, 30, "the second task")
    assert await assignee(mine[1].customer_id) == delegate.manager_id
    metric = w.m.directory_updates.labels("manager", "applied")._value.get()
    assert metric == len(data.managers) + 1


@pytest.mark.integration
async def test_the_follower_goes_on_from_where_the_start_read_ended(settings: Settings) -> None:
    """Records before the positions are not applied again; records after them are."""
    await ensure_topics(settings)
    await produce(settings.kafka_bootstrap, settings.topic_managers,
                  [(b"M1", _wire(Manager("M1", name="old")))])
    d = Directory()
    f = ManagerFollower(settings, d, Metrics(CollectorRegistry()))
    await f.start({partition_of("M1", settings.partitions): 1})  # past M1's record
    try:
        await produce(settings.kafka_bootstrap, settings.topic_managers,
                      [(b"M2", _wire(Manager("M2"))), (b"M2", None)])

        async def both() -> bool:
            return f.applied >= 2
        await wait_for(both, 30, "the two later records")
    finally:
        await f.stop()
    assert d.managers == {}  # M1 was before the positions, M2 put then removed
    assert f.applied == 2


@pytest.mark.integration
async def test_the_start_read_applies_a_tombstone_that_a_later_record_follows(
        settings: Settings) -> None:
    """A manager removed on the topic leaves the directory Redis gave the worker at its start
    too, wherever the tombstone stands in its partition (a later record of another manager in
    the same partition once hid it: the start read skipped tombstones, and the follower went
    on after them)."""
    await ensure_topics(settings)
    p = partition_of("M2", settings.partitions)
    other = next(k for k in (f"M{i}" for i in range(3, 100))
                 if partition_of(k, settings.partitions) == p)
    await produce(settings.kafka_bootstrap, settings.topic_managers,
                  [(b"M2", _wire(Manager("M2"))), (b"M2", None),
                   (other.encode(), _wire(Manager(other)))])
    d = Directory(managers={"M2": Manager("M2", name="from Redis")})
    m = Metrics(CollectorRegistry())
    consumer = new_consumer(settings, None)
    await start_kafka(consumer, settings)
    try:
        positions = await load(consumer, settings.topic_managers, d, m)
    finally:
        await consumer.stop()
    assert set(d.managers) == {other}
    assert positions == {p: 3}
    assert [m.directory_updates.labels("manager", o)._value.get()
            for o in ("applied", "removed")] == [2, 1]
