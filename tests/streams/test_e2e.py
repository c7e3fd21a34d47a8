"""End to end with the real rules engine and the packaged rules: the generated sample through
Tansu and Redis equals the backtest on the same events; two workers equal one; a worker killed
with SIGKILL three times and restarted delivers every task exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from alerting.sample import SampleData
from alerting.settings import Settings
from alerting.streams.app import rules_engine_factory
from alerting.streams.directory import load_directory, save_directory
from alerting.streams.topics import ensure_topics, partition_of
from alerting.streams.worker import Worker
from alerting.tasks import Task

from .conftest import (
    RULES,
    TaskKey,
    backtest,
    produce_events,
    running_worker,
    tasks_topic,
    wait_for,
)

pytestmark = pytest.mark.integration


def as_set(values: list[bytes]) -> set[TaskKey]:
    return {(d["task_id"], d["revision"], v) for v in values for d in [orjson.loads(v)]}


async def prepare(s: Settings, redis: aioredis.Redis, data: SampleData,
                  events: list[dict[str, Any]]) -> None:
    await save_directory(redis, s.redis_prefix, data.customers, data.managers)
    await produce_events(s, events)


async def settle(s: Settings, want: int, timeout_s: float) -> list[bytes]:
    """Wait until the tasks topic holds ``want`` messages and then stays put briefly."""
    state: dict[str, Any] = {"n": -1, "since": time.monotonic()}

    async def stable() -> bool:
        n = len(await tasks_topic(s))
        if n != state["n"]:
            state["n"], state["since"] = n, time.monotonic()
        return n >= want and time.monotonic() - state["since"] > 1.0
    await wait_for(stable, timeout_s, f"{want} tasks")
    return await tasks_topic(s)


async def test_worker_equals_backtest(settings: Settings, redis: aioredis.Redis,
                                      sample: Any) -> None:
    data, events, want = sample
    s = settings.model_copy(update={"rules_path": RULES})
    await prepare(s, redis, data, events)
    assert len(want) > 30
    async with running_worker(s, redis, rules_engine_factory(s)):
        got = await settle(s, len(want), 60)
    assert len(got) == len(set(got)), "a task was delivered twice"
    assert as_set(got) == want


async def test_one_instants_events_on_two_topics_apply_as_in_the_backtest(
        settings: Settings, redis: aioredis.Redis, sample: Any) -> None:
    """A complaint and a transfer out in the same second, on two topics: the worker applies
    the transfer first (its topic merge), as the backtest does with the lines in the other
    order, so the sequence rule matches the earlier complaint in both."""
    data = sample[0]
    cid = data.customers[0].customer_id
    old, same = "2025-01-24T18:50:27+08:00", "2025-01-28T18:50:27+08:00"
    events = [
        {"event_id": "k0", "type": "complaint", "complaint_id": "K0", "customer_id": cid,
         "ts": old, "status": "opened", "category": "fees"},
        {"event_id": "k1", "type": "complaint", "complaint_id": "K1", "customer_id": cid,
         "ts": same, "status": "opened", "category": "fees"},
        {"event_id": "x1", "type": "transaction", "customer_id": cid, "account_id": "A",
         "ts": same, "kind": "transfer_out", "amount": "36581.40", "counterparty_bank": "ABC"}]
    want = backtest(data, events)
    s = settings.model_copy(update={"rules_path": RULES})
    await prepare(s, redis, data, events)
    async with running_worker(s, redis, rules_engine_factory(s)):
        got = await settle(s, len(want), 60)
    assert as_set(got) == want
    seq = [d for _, _, v in want for d in [orjson.loads(v)]
           if d["rule_id"] == "complaint-then-transfer-out"]
    assert [d["event_ids"] for d in seq] == [["k0", "x1"]]


async def test_a_partition_taken_over_brings_the_profile_updates_applied_before_it(
        settings: Settings, redis: aioredis.Redis, sample: Any) -> None:
    """Worker b loads the directory at its start; worker a then applies a profile update of one
    of its customers (mass tier to key: large amount 20,000 to 100,000) and stops. The customer's
    partition moves to b, whose directory predates the update: b must take the profile from the
    checkpoint, or a 60,000 withdrawal makes a large-withdrawal task that the backtest (and a
    single worker) does not."""
    data = sample[0]
    s = settings.model_copy(update={"rules_path": RULES})
    custs = [dataclasses.replace(c, assets=1_000_000, tier=None) for c in data.customers]
    await save_directory(redis, s.redis_prefix, custs, data.managers)
    await ensure_topics(s)
    async with running_worker(s, redis, rules_engine_factory(s)) as b:
        async with running_worker(s, redis, rules_engine_factory(s)) as a:
            async def shared() -> bool:
                return bool(a.shards) and bool(b.shards)
            await wait_for(shared, 30, "both workers own partitions")
            cid = next(c.customer_id for c in custs
                       if partition_of(c.customer_id, s.partitions) in a.shards)
            update = {"type": "customer", "event_id": "u1", "customer_id": cid,
                      "ts": "2025-03-01T10:00:00+08:00", "assets": "500000.00"}
            await produce_events(s, [update])

            async def applied_by_a() -> bool:
                return a.stats["events"] >= 1
            await wait_for(applied_by_a, 30, "the update applied")
        # a stopped (final checkpoint): b takes the partition over
        async def owned_by_b() -> bool:
            return partition_of(cid, s.partitions) in b.shards
        await wait_for(owned_by_b, 30, "the partition moved to b")
        withdrawal = {"event_id": "x1", "type": "transaction", "customer_id": cid,
                      "account_id": "A", "ts": "2025-03-02T10:00:00+08:00",
                      "kind": "withdrawal", "amount": "60000.00", "channel": "counter"}
        await produce_events(s, [withdrawal])

        async def checkpointed_by_b() -> bool:  # a checkpoint follows its tasks' acks
            return await applied(redis, s) >= 2
        await wait_for(checkpointed_by_b, 30, "the withdrawal applied and checkpointed")
        got = [v for v in await tasks_topic(s) if orjson.loads(v)["customer_id"] == cid]
    want = {k for k in backtest(dataclasses.replace(data, customers=custs), [update, withdrawal])
            if orjson.loads(k[2])["customer_id"] == cid}  # (other customers' timers differ)
    assert as_set(got) == want
    assert not any(orjson.loads(v)["rule_id"] == "large-withdrawal" for v in got)


async def test_two_workers_equal_one(settings: Settings, redis: aioredis.Redis,
                                     sample: Any) -> None:
    """The second worker joins mid-stream: a real rebalance (revoke → checkpoint → restore on
    the other worker) in the middle of the input, and the union still equals one worker.

    The first worker stops fetching once it has applied a fifth of the input, until both
    workers own partitions: the rebalance lands mid-stream however fast the worker is (its
    group membership, revoke and checkpoint run as usual meanwhile)."""
    data, events, want = sample
    s = settings.model_copy(update={"rules_path": RULES, "max_batch": 1,
                                    "checkpoint_events": 20})
    await prepare(s, redis, data, events)
    go_on = asyncio.Event()
    go_on.set()
    gated: list[bool] = []
    async with running_worker(s, redis, rules_engine_factory(s)) as w1:
        assert w1.consumer is not None
        getmany = w1.consumer.getmany

        async def gated_getmany(*args: Any, **kw: Any) -> Any:
            if w1.stats["events"] >= len(events) // 5 and not gated:
                gated.append(True)
                go_on.clear()
            await go_on.wait()
            return await getmany(*args, **kw)
        w1.consumer.getmany = gated_getmany  # type: ignore[method-assign]

        async def paused() -> bool:
            return not go_on.is_set()
        await wait_for(paused, 30, "the first worker under way")
        async with running_worker(s, redis, rules_engine_factory(s)) as w2:
            async def shared() -> bool:
                return bool(w1.shards) and bool(w2.shards)
            await wait_for(shared, 30, "both workers own partitions")
            assert w1.stats["events"] < len(events), "the rebalance must land mid-stream"
            assert set(w1.shards).isdisjoint(w2.shards)
            go_on.set()
            got = await settle(s, len(want), 60)
            assert w2.stats["events"] > 0, "the second worker applied part of the input"
    assert len(got) == len(set(got))
    assert as_set(got) == want


async def _crash(w: Any, run: asyncio.Task[None]) -> None:
    """Stop a worker as a crash would: the batch loop dies, no final checkpoint."""
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    w.failed = True  # what a dead process amounts to: stop() only closes the clients
    await w.stop()


def _gate(w: Any, after_events: int) -> tuple[asyncio.Event, asyncio.Event]:
    """Pause the worker's fetching once, when it has applied ``after_events`` events (between
    two batches, outside the batch lock). Returns (paused, resume)."""
    paused, resume = asyncio.Event(), asyncio.Event()
    getmany = w.consumer.getmany

    async def gated(*args: Any, **kw: Any) -> Any:
        if w.stats["events"] >= after_events and not resume.is_set():
            paused.set()
            await resume.wait()
        return await getmany(*args, **kw)
    w.consumer.getmany = gated
    return paused, resume


async def test_second_crash_inside_replayed_input_duplicates_nothing(
        settings: Settings, redis: aioredis.Redis, sample: Any) -> None:
    """A crashes well past its last checkpoint C0; B restarts from C0 and checkpoints (C1)
    while still replaying input A had processed, then crashes too; C restarts from C1. C1 must
    record output offsets no later than A's tasks for the events after it, or C reads back too
    little and delivers them twice (a real bug once: C1 recorded the topic's end at B's start).
    """
    data, events, want = sample
    s = settings.model_copy(update={"rules_path": RULES, "max_batch": 50,
                                    "checkpoint_events": 10**9, "checkpoint_ms": 10**7})
    await prepare(s, redis, data, events)
    factory = rules_engine_factory(s)

    async def start(gate_after: int) -> tuple[Worker, asyncio.Task[None],
                                              tuple[asyncio.Event, asyncio.Event]]:
        w = Worker(s, factory, redis, await load_directory(redis, s.redis_prefix),
                   Metrics(CollectorRegistry()))
        await w.start()
        gate = _gate(w, gate_after)
        return w, asyncio.create_task(w.run(asyncio.Event())), gate

    a, run_a, (paused_a, resume_a) = await start(len(events) // 5)
    await wait_for(_is_set(paused_a), 30, "A at a fifth of the input")
    await a.checkpoint(force=True)  # C0
    resume_a.set()  # A runs on to the end of the input, and crashes there

    async def a_done() -> bool:
        return a.stats["events"] >= len(events) and len(await tasks_topic(s)) >= len(want)
    await wait_for(a_done, 60, "A through the whole input")
    await _crash(a, run_a)
    assert await applied(redis, s) < len(events) // 2, "A's last checkpoint is C0"

    b, run_b, (paused_b, _) = await start(len(events) // 5)  # from C0 to two fifths
    await wait_for(_is_set(paused_b), 30, "B inside the input A had processed")
    assert b.stats["tasks"] == 0, "B only re-emitted tasks A had delivered"
    await b.checkpoint(force=True)  # C1
    await _crash(b, run_b)
    at_c1 = await applied(redis, s)

    c, run_c, _ = await start(10**9)
    try:
        async def c_done() -> bool:
            return c.stats["events"] >= len(events) - at_c1
        await wait_for(c_done, 60, "C through the rest of the input")
        await c.output.flush()
        got = await tasks_topic(s)
    finally:
        await _crash(c, run_c)
    assert len(got) == len(set(got)), "a task was delivered twice"
    assert as_set(got) == want


class _Silent:
    """An engine whose rules changed so that it emits none of the earlier tasks again."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def __len__(self) -> int:
        return len(self.engine)

    def process(self, ev: Any) -> list[Task]:
        self.engine.process(ev)
        return []

    def advance(self, watermark_ms: int) -> list[Task]:
        self.engine.advance(watermark_ms)
        return []


async def test_tasks_the_replay_never_emits_again_stop_holding_back_checkpoints(
        settings: Settings, redis: aioredis.Redis, sample: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """A crashes past its checkpoint C0; B restarts from C0 with rules that emit none of A's
    tasks again. Once B has replayed the input and fired its timers to where A was, its
    checkpoints record the tasks topic's end again instead of A's first task after C0 (which
    would make every later restart read the tasks topic back from there), and B still delivers
    nothing twice."""
    data, events, want = sample
    s = settings.model_copy(update={"rules_path": RULES, "max_batch": 50,
                                    "checkpoint_events": 10**9, "checkpoint_ms": 10**7})
    await prepare(s, redis, data, events)
    factory = rules_engine_factory(s)
    a = Worker(s, factory, redis, await load_directory(redis, s.redis_prefix),
               Metrics(CollectorRegistry()))
    await a.start()
    paused, resume = _gate(a, len(events) // 5)
    run_a = asyncio.create_task(a.run(asyncio.Event()))
    await wait_for(_is_set(paused), 30, "A at a fifth of the input")
    await a.checkpoint(force=True)  # C0
    resume.set()

    async def a_done() -> bool:
        return a.stats["events"] >= len(events) and len(await tasks_topic(s)) >= len(want)
    await wait_for(a_done, 60, "A through the whole input")
    await _crash(a, run_a)

    b = Worker(s, lambda d: _Silent(factory(d)), redis,  # type: ignore[arg-type,return-value]
               await load_directory(redis, s.redis_prefix), Metrics(CollectorRegistry()))
    await b.start()
    run_b = asyncio.create_task(b.run(asyncio.Event()))
    try:
        await wait_for(_is_set(b.ready), 30, "B restored")
        assert len(b.delivered) > 0, "B owes A's tasks after C0"

        async def released() -> bool:
            await b.checkpoint(force=True)
            return all(b.delivered.outstanding(p) == 0 for p in range(s.partitions))
        await wait_for(released, 60, "B's replay over")
        ends = 0
        for p in range(s.partitions):
            raw = await redis.hget(f"{s.redis_prefix}ckpt:{s.group_id}:{p}", "out")  # type: ignore[misc]
            ends = max(ends, sum(orjson.loads(raw).values()))
        got = await tasks_topic(s)
    finally:
        await _crash(b, run_b)
    assert ends == len(got), "checkpoints record the tasks topic's end again"
    assert b.stats["tasks"] == 0 and len(got) == len(set(got))
    assert as_set(got) == want
    assert "not emitted again by its replay" in caplog.text


def _is_set(e: asyncio.Event) -> Any:
    async def check() -> bool:
        return e.is_set()
    return check


def spawn(s: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, **s.environment()}
    exe = str(Path(sys.executable).parent / "alerting")
    return subprocess.Popen([exe, "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def applied(redis: aioredis.Redis, s: Settings) -> int:
    """Input records covered by the partitions' checkpoints (their offset fields only)."""
    fields = [f"o:{t}" for t in s.input_topics()]
    total = 0
    for p in range(s.partitions):
        offsets = await redis.hmget(  # type: ignore[misc]
            f"{s.redis_prefix}ckpt:{s.group_id}:{p}", fields)
        total += sum(int(v) for v in offsets if v is not None)
    return total


async def test_kill_9_three_times_loses_and_duplicates_nothing(
        settings: Settings, redis: aioredis.Redis, sample: Any) -> None:
    """SIGKILL a worker process three times while it works through the input, restart it each
    time, then let a last one finish: every task exactly once, equal to the backtest.

    The input arrives in quarters, each produced while no worker runs (so the event-time merge
    sees it whole), and each kill comes once the worker is a little into its new quarter, so
    the kills land mid-stream however fast the worker is."""
    data, events, want = sample
    s = settings.model_copy(update={"rules_path": RULES, "max_batch": 40,
                                    "checkpoint_events": 300, "checkpoint_ms": 100000})
    await save_directory(redis, s.redis_prefix, data.customers, data.managers)
    n = len(events)
    quarters = [events[i * n // 4:(i + 1) * n // 4] for i in range(4)]
    kills = 0
    for i, frac in enumerate((0.05, 0.30, 0.55)):
        await produce_events(s, quarters[i])
        proc = spawn(s)
        try:
            async def progressed(f: float = frac, proc: Any = proc) -> bool:
                assert proc.poll() is None, proc.stderr.read().decode()
                return await applied(redis, s) >= f * n
            await wait_for(progressed, 60, f"{frac:.0%} of the input")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        kills += 1
    assert await applied(redis, s) < n, "the kills must land mid-stream"
    await produce_events(s, quarters[3])
    proc = spawn(s)
    try:
        got = await settle(s, len(want), 90)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert kills == 3
    assert len(got) == len(set(got)), "a task was delivered twice"
    assert as_set(got) == want


async def test_dispatch_stores_every_task(settings: Settings, redis: aioredis.Redis,
                                          sample: Any) -> None:
    from alerting.errors import TaskNotFound
    from alerting.rules.loader import load_rules
    from alerting.store.redis import RedisTaskStore
    from alerting.streams.dispatch import run_dispatch

    data, events, want = sample
    s = settings.model_copy(update={"rules_path": RULES, "dispatch": True})
    await prepare(s, redis, data, events)
    store = RedisTaskStore(redis, prefix=s.redis_prefix)
    ids = {tid for tid, _, _ in want}
    stop = asyncio.Event()
    async with running_worker(s, redis, rules_engine_factory(s)) as w:
        side = asyncio.create_task(run_dispatch(s, load_rules(RULES), w.directory, redis, stop,
                                                Metrics(CollectorRegistry())))

        async def stored() -> bool:
            assert not side.done(), side.exception()
            for tid in ids:
                try:
                    await store.get(tid)
                except TaskNotFound:
                    return False
            return True
        try:
            await wait_for(stored, 60, "every task in the Redis task store")
        finally:
            stop.set()
            await side
    latest = {tid: rev for tid, rev, _ in sorted(want)}
    for tid in list(ids)[:10]:
        assert (await store.get(tid)).revision == latest[tid]
