"""Two worker processes on the same topics, SIGKILLed at random moments and restarted, several
times each, with the partitions moving between them at every kill and restart: the tasks topic
still holds every task of the backtest exactly once.

The kills are drawn from a seeded random generator (``CHAOS_SEED`` overrides it, to rerun a
failing draw): which worker, and how far into the input (a fraction of the records, read off
the checkpoints) the next kill comes. A killed worker is restarted at once, so kills land during
rebalances as well as during steady work. Runs: the plain year; the year with profile updates;
the dispatcher on (the Redis task store ends complete); the input arriving during the kills."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from typing import Any

import pytest
import redis.asyncio as aioredis

from alerting.sample import SampleData
from alerting.settings import Settings
from alerting.streams.directory import save_directory
from alerting.timeutil import format_ts, parse_ts

from .conftest import RULES, TaskKey, backtest, backtested_sample, produce_events, wait_for
from .test_e2e import applied, as_set, prepare, settle, spawn

pytestmark = pytest.mark.integration

KILLS = 6


@pytest.fixture(scope="module")
def big_sample() -> tuple[SampleData, list[dict[str, Any]], set[TaskKey]]:
    """A year of 600 customers (~54k events): long enough for six kills on this broker."""
    return backtested_sample(600, 365, seed=5)


@pytest.fixture(scope="module")
def with_profile_updates(big_sample: Any) -> tuple[SampleData, list[dict[str, Any]], set[TaskKey]]:
    """The same year with ~400 profile updates on the customers topic (assets up or down, so
    tiers and "half of the assets" windows change mid-stream), half of them in the same second
    as one of the customer's own events and listed after it (a worker applies them first)."""
    data, events, _ = big_sample
    rng = random.Random(7)
    assets = {c.customer_id: c.assets for c in data.customers}
    updates: list[tuple[int, dict[str, Any]]] = []
    for k in range(400):
        i = rng.randrange(len(events))
        e = events[i]
        cid = e["customer_id"]
        ts = e["ts"] if k % 2 else format_ts(parse_ts(e["ts"])[0] + 1000, 480)
        cents = max(100, int(assets[cid] * rng.uniform(0.2, 3.0)))
        updates.append((i, {"type": "customer", "event_id": f"u{k}", "customer_id": cid,
                            "ts": ts, "assets": f"{cents // 100}.{cents % 100:02d}"}))
    merged = list(events)
    for i, u in sorted(updates, key=lambda x: -x[0]):
        merged.insert(i + 1, u)
    merged.sort(key=lambda e: parse_ts(e["ts"])[0])  # stable: ties keep the order above
    return data, merged, backtest(data, merged)


def _alive(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is not None:
            raise AssertionError(f"a worker exited by itself ({p.returncode}): "
                                 f"{p.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]


async def _kill_at_random(s: Settings, redis: aioredis.Redis, n: int, seed: int,
                         procs: list[subprocess.Popen[bytes]]) -> list[tuple[tuple[int, ...], int]]:
    """SIGKILL one or both workers ``KILLS`` times at seeded random points of the input and
    restart them at once; returns (workers, records checkpointed) per kill."""
    rng = random.Random(seed)
    killed: list[tuple[tuple[int, ...], int]] = []
    for _ in range(KILLS):
        # the next kill after 0-12 % more of the input (0: as soon as the restarted worker is
        # back, i.e. during the rebalance its restart causes)
        mark = min((killed[-1][1] if killed else 0) + rng.uniform(0, 0.12) * n, 0.9 * n)

        async def reached(m: float = mark) -> bool:
            _alive(procs)
            return await applied(redis, s) >= m
        await wait_for(reached, 90, f"{mark:.0f} records checkpointed (seed {seed})")
        victims = rng.choice(((0,), (1,), (0, 1)))  # sometimes both at once
        for v in victims:
            procs[v].send_signal(signal.SIGKILL)
        for v in victims:
            procs[v].wait(10)
        killed.append((victims, await applied(redis, s)))
        for v in victims:
            procs[v] = spawn(s)
    assert killed[-1][1] < n, f"kills must land mid-stream: {killed}"
    return killed


async def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        await asyncio.to_thread(p.wait, 20)


def _seed() -> int:
    return int(os.environ.get("CHAOS_SEED", "20261123"))


def _assert_each_task_once(got: list[bytes], want: set[TaskKey], seed: int,
                           killed: list[tuple[tuple[int, ...], int]]) -> None:
    assert len(got) == len(set(got)), f"a task was delivered twice (seed {seed}, {killed})"
    assert as_set(got) == want, f"tasks differ from the backtest (seed {seed}, {killed})"


def _settings(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"rules_path": RULES, "max_batch": 1,
                                       "checkpoint_events": 50, "checkpoint_ms": 100000,
                                       **extra})


@pytest.mark.parametrize("input_", ["big_sample", "with_profile_updates"])
async def test_two_workers_killed_at_random_deliver_each_task_once(
        settings: Settings, redis: aioredis.Redis, input_: str,
        request: pytest.FixtureRequest) -> None:
    data, events, want = request.getfixturevalue(input_)
    seed = _seed()
    s = _settings(settings)
    await prepare(s, redis, data, events)
    procs = [spawn(s), spawn(s)]
    try:
        killed = await _kill_at_random(s, redis, len(events), seed, procs)
        got = await settle(s, len(want), 120)
    finally:
        await _stop(procs)
    _assert_each_task_once(got, want, seed, killed)


async def test_dispatching_workers_killed_at_random_store_every_task(
        settings: Settings, redis: aioredis.Redis, big_sample: Any) -> None:
    """The same with the dispatcher on in both workers (it consumes the tasks topic into the
    Redis task store): once the input is done, the store holds every task of the backtest at
    its latest revision."""
    from alerting.errors import TaskNotFound
    from alerting.store.redis import RedisTaskStore

    data, events, want = big_sample
    seed = _seed()
    s = _settings(settings, dispatch=True)
    await prepare(s, redis, data, events)
    latest: dict[str, int] = {}
    for tid, rev, _ in want:
        latest[tid] = max(rev, latest.get(tid, 0))
    store = RedisTaskStore(redis, prefix=s.redis_prefix)
    procs = [spawn(s), spawn(s)]
    try:
        killed = await _kill_at_random(s, redis, len(events), seed, procs)

        async def stored() -> bool:
            _alive(procs)
            for tid, rev in latest.items():
                try:
                    if (await store.get(tid)).revision != rev:
                        return False
                except TaskNotFound:
                    return False
            return True
        await wait_for(stored, 120, f"every task stored at its latest revision (seed {seed})")
        got = await settle(s, len(want), 60)
    finally:
        await _stop(procs)
    _assert_each_task_once(got, want, seed, killed)


async def test_workers_killed_while_the_input_arrives_deliver_each_task_once(
        settings: Settings, redis: aioredis.Redis, big_sample: Any) -> None:
    """The input produced while the workers run and are killed (2,000 events every 0.3 s, a
    pace, not a synchronisation). Transactions only: with one input topic the order a worker
    applies does not depend on when records arrive, so the backtest is still the reference."""
    data, events, _ = big_sample
    events = [e for e in events if e["type"] == "transaction"]
    want = backtest(data, events)
    seed = _seed()
    s = _settings(settings)
    await save_directory(redis, s.redis_prefix, data.customers, data.managers)
    await produce_events(s, events[:2000])
    procs = [spawn(s), spawn(s)]

    async def arrive() -> None:
        for i in range(2000, len(events), 2000):
            await asyncio.sleep(0.3)
            await produce_events(s, events[i:i + 2000])
    feed = asyncio.create_task(arrive())
    try:
        killed = await _kill_at_random(s, redis, len(events), seed, procs)
        await feed
        got = await settle(s, len(want), 120)
    finally:
        feed.cancel()
        await _stop(procs)
    _assert_each_task_once(got, want, seed, killed)
