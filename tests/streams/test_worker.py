"""The worker on the real Tansu broker and Redis, with the protocol-conforming stub engine."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerting.directory import Directory
from alerting.errors import ServiceUnavailable
from alerting.metrics import Metrics
from alerting.models import parse_event
from alerting.settings import Settings
from alerting.streams.deadletter import original_bytes
from alerting.streams.directory import load_directory
from alerting.streams.recovery import topic_partitions
from alerting.streams.shard import Item, Shard
from alerting.streams.topics import ensure_topics, new_consumer, start_kafka
from alerting.streams.worker import Worker

from .broker import free_port
from .conftest import produce, produce_events, read_all, running_worker, tasks_topic, wait_for
from .events import BAD_RECORDS, make_events
from .stub_engine import StubEngine, run_embedded

pytestmark = pytest.mark.integration


def task_set(values: list[bytes]) -> set[tuple[str, int, bytes]]:
    out = set()
    for v in values:
        d = orjson.loads(v)
        out.add((d["task_id"], d["revision"], v))
    return out


def expected(events: list[dict[str, Any]]) -> set[tuple[str, int, bytes]]:
    final = max(parse_event(e).ts for e in events if e["type"] != "customer")
    return {(t.task_id, t.revision, t.to_json())
            for t in run_embedded(events, Directory(), final)}


async def test_end_to_end_equals_embedded(settings: Settings, redis: aioredis.Redis) -> None:
    events = make_events()
    want = expected(events)
    await produce_events(settings, events)
    async with running_worker(settings, redis, StubEngine) as w:
        async def done() -> bool:
            return (len(await tasks_topic(settings)) >= len(want)
                    and w.stats["events"] >= len(events))
        await wait_for(done, 30, "all tasks")
    got = await tasks_topic(settings)
    assert len(got) == len(set(got)), "duplicate task messages"
    assert task_set(got) == want
    assert any(b"idle" in v for v in got), "inactivity timers must fire without events"


async def test_bad_events_dead_lettered_and_worker_continues(
        settings: Settings, redis: aioredis.Redis) -> None:
    events = make_events(customers=5, per_customer=10)
    await ensure_topics(settings)
    await produce(settings.kafka_bootstrap, settings.topic_transactions,
                  [(b"C0001", v) for v in BAD_RECORDS])
    await produce_events(settings, events)
    want = expected(events)
    async with running_worker(settings, redis, StubEngine) as w:
        async def done() -> bool:
            return len(await tasks_topic(settings)) >= len(want) and w.stats["dead_letters"] >= 5
        await wait_for(done, 30, "tasks and dead letters")
        assert w.m.dead_letters.labels("bad_json")._value.get() >= 1  # noqa: SLF001
    dl = [orjson.loads(v) for _, v in await read_all(settings.kafka_bootstrap,
                                                     settings.topic_dead_letter)]
    assert {d["reason"] for d in dl} >= {"bad_json", "not_an_object", "bad_type"}
    assert sorted(original_bytes(orjson.dumps(d)) for d in dl) == sorted(BAD_RECORDS)
    assert all(d["source"]["topic"] == settings.topic_transactions for d in dl)
    assert task_set(await tasks_topic(settings)) == want


async def test_late_event_goes_to_dead_letter(settings: Settings, redis: aioredis.Redis) -> None:
    ev = make_events(customers=1, per_customer=5)
    tx = [e for e in ev if e["type"] == "transaction"]
    late = dict(tx[0], event_id="late-1", ts="2024-01-01T00:00:00+08:00")
    await produce_events(settings, [*ev, late])
    async with running_worker(settings, redis, StubEngine) as w:
        async def done() -> bool:
            return w.stats["dead_letters"] >= 1
        await wait_for(done, 30, "late event dead-lettered")
    dl = [orjson.loads(v) for _, v in await read_all(settings.kafka_bootstrap,
                                                     settings.topic_dead_letter)]
    assert [d["reason"] for d in dl] == ["late_event"]


async def test_restart_resumes_from_checkpoint(settings: Settings, redis: aioredis.Redis) -> None:
    first, second = make_events(seed=1)[:600], make_events(seed=1)[600:]
    await produce_events(settings, first)
    async with running_worker(settings, redis, StubEngine) as w:
        async def first_done() -> bool:
            return w.stats["events"] >= len(first)
        await wait_for(first_done, 30, "first half")
    await produce_events(settings, second)
    async with running_worker(settings, redis, StubEngine) as w2:
        async def all_done() -> bool:
            return w2.stats["events"] >= len(second)
        await wait_for(all_done, 30, "second half")
        assert w2.stats["events"] == len(second), "restart must not re-read checkpointed input"
    want = expected(first + second)
    got = await tasks_topic(settings)
    assert len(got) == len(set(got))
    assert task_set(got) == want


async def test_wall_clock_watermark_fires_timers(settings: Settings, redis: aioredis.Redis
                                                 ) -> None:
    """In live mode timers follow the wall clock: every customer of this 2025 stream has been
    inactive for more than 30 days by now, so each gets its inactivity task."""
    events = make_events(customers=8, per_customer=5)
    s = settings.model_copy(update={"watermark": "wall"})
    await produce_events(s, events)
    customers = {e["customer_id"] for e in events}
    async with running_worker(s, redis, StubEngine):
        async def all_idle() -> bool:
            idle = {orjson.loads(v)["customer_id"] for v in await tasks_topic(s)
                    if orjson.loads(v)["rule_id"] == "idle"}
            return idle == customers
        await wait_for(all_idle, 30, "inactivity tasks from the wall clock")


async def test_checkpoint_that_cannot_be_written_stops_the_worker(
        settings: Settings, redis: aioredis.Redis) -> None:
    """Checkpoints are written in the background; one that fails (Redis refuses the
    connection) stops the batch loop, and nothing is checkpointed after it: a later incremental
    checkpoint would record offsets past customer states that were never saved."""
    events = make_events(seed=2)
    await produce_events(settings, events[:300])
    w = Worker(settings, StubEngine, redis, await load_directory(redis, settings.redis_prefix),
               Metrics(CollectorRegistry()))
    await w.start()
    stop = asyncio.Event()
    run = asyncio.create_task(w.run(stop))
    try:
        async def checkpointed() -> bool:
            # every shard, not just the first: another one taken after ``before`` is read
            # below would change the hashes
            return w.stats["events"] >= 300 and not any(
                sh.changed for sh in w.shards.values())
        await wait_for(checkpointed, 30, "every shard checkpointed")
        await w.wait_checkpoint()
        keys = [f"{settings.redis_prefix}ckpt:{settings.group_id}:{p}"
                for p in range(settings.partitions)]
        before = [await redis.hgetall(k) for k in keys]  # type: ignore[misc]
        w.store.redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
        await produce_events(settings, events[300:])
        with pytest.raises(ServiceUnavailable, match="redis: checkpoint failed"):
            await asyncio.wait_for(run, 30)
        assert w.failed
        await w.stop()
        assert [await redis.hgetall(k) for k in keys] == before  # type: ignore[misc]
    finally:
        stop.set()
        if not run.done():
            run.cancel()
        await w.store.redis.aclose()


async def test_flow_control_pauses_a_partition_that_runs_ahead_and_resumes_it(
        settings: Settings, redis: aioredis.Redis) -> None:
    """A topic-partition whose merge buffer holds more than 4 batches is paused on the real
    consumer, the others are not, and it is resumed once its buffer drains."""
    s = settings.model_copy(update={"max_batch": 5})
    await ensure_topics(s)
    w = Worker(s, StubEngine, redis, Directory(), Metrics(CollectorRegistry()))
    w.consumer = new_consumer(s, None)
    await start_kafka(w.consumer, s)
    try:
        tps = [tp for t in s.input_topics() for tp in await topic_partitions(w.consumer, t)]
        w.consumer.assign(tps)
        for p in (0, 1):
            w.shards[p] = Shard(p, s.input_topics(), StubEngine(Directory()),
                                dict.fromkeys(s.input_topics(), 0))
        ahead = w.shards[1].buffers[s.topic_transactions]
        ahead.extend(Item(i, i, 0, None, b"{}") for i in range(21))  # limit: 4 * 5
        w.shards[0].buffers[s.topic_transactions].extend(
            Item(i, i, 0, None, b"{}") for i in range(20))
        w._flow_control()  # noqa: SLF001
        assert {(tp.topic, tp.partition) for tp in w.consumer.paused()} == {
            (s.topic_transactions, 1)}
        w._flow_control()  # noqa: SLF001 - still over: stays paused, nothing else changes
        assert len(w.consumer.paused()) == 1
        ahead.clear()
        w._flow_control()  # noqa: SLF001
        assert w.consumer.paused() == set()
    finally:
        await w.consumer.stop()
