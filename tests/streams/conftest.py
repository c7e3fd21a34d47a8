"""Fixtures of the streams suite: one real Tansu broker per test session, the machine's Redis with
a unique key prefix per test, unique topic names and consumer groups per test."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from alerting.backtest import build_engine, replay
from alerting.directory import Directory
from alerting.kafka_auth import client_auth
from alerting.metrics import Metrics
from alerting.sample import SampleData, generate
from alerting.settings import Settings
from alerting.streams.directory import load_directory
from alerting.streams.recovery import topic_partitions
from alerting.streams.topics import ensure_topics
from alerting.streams.worker import Worker
from alerting.tasks import Task

from .broker import Broker, start_broker

RULES = Path(__file__).resolve().parents[2] / "alerting" / "data" / "rules.yaml"
TaskKey = tuple[str, int, bytes]  # (task id, revision, the task's JSON)

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """A fresh in-memory Tansu broker for the session (stopped at the end)."""
    b = start_broker()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    r = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in r.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()


@pytest.fixture
async def redis(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """An async client of the machine's Redis (fails loudly if Redis is not running)."""
    r = aioredis.Redis.from_url(REDIS_URL)
    await r.ping()
    yield r
    await r.aclose()


@pytest.fixture
def settings(broker: Broker, redis_prefix: str) -> Settings:
    """Worker settings on unique topics, group and Redis prefix."""
    uid = uuid.uuid4().hex[:8]
    return Settings(  # type: ignore[call-arg]  # pydantic-settings: the rest has defaults
        kafka_bootstrap=broker.bootstrap, redis_url=REDIS_URL, redis_prefix=redis_prefix,
        group_id=f"g-{uid}", topic_transactions=f"{uid}-tx", topic_complaints=f"{uid}-co",
        topic_customers=f"{uid}-cu", topic_managers=f"{uid}-mg", topic_tasks=f"{uid}-tasks",
        topic_dead_letter=f"{uid}-dlq", partitions=4, web_enabled=False,
        checkpoint_ms=200, watermark_interval_ms=100, connect_timeout_s=5)


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]],
                  **client: Any) -> None:
    """Produce keyed records (the default murmur2 partitioner, like Java clients); ``client``:
    more client arguments (TLS)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1, **client)
    await p.start()
    try:
        futs = [await p.send(topic, v, key=k) for k, v in records]
        await asyncio.gather(*futs)
    finally:
        await p.stop()


async def produce_events(s: Settings, events: list[dict[str, Any]]) -> None:
    """Route events to the transactions / complaints / customers topics by type."""
    by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {}
    topic = {"transaction": s.topic_transactions, "complaint": s.topic_complaints,
             "customer": s.topic_customers}
    for e in events:
        t = topic.get(e.get("type"), s.topic_transactions)  # type: ignore[arg-type]
        key = str(e["customer_id"]).encode() if e.get("customer_id") else None
        by_topic.setdefault(t, []).append((key, orjson.dumps(e)))
    await ensure_topics(s)
    for t, recs in by_topic.items():
        await produce(s.kafka_bootstrap, t, recs, **client_auth(s))


async def read_all(bootstrap: str, topic: str, **client: Any) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record currently in a topic (to the fetch high watermark);
    ``client``: more client arguments (TLS)."""
    return [(r.key, r.value) for r in await read_records(bootstrap, topic, **client)]


async def read_records(bootstrap: str, topic: str,
                       **client: Any) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record currently in a topic (to the fetch high watermark), partition by
    partition in offset order, with its headers."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client)
    await c.start()
    try:
        tps = await topic_partitions(c, topic)
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        pos = dict.fromkeys(tps, 0)
        out: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {tp: [] for tp in tps}
        todo = set(tps)
        while todo:
            batch = await c.getmany(*todo, timeout_ms=100)
            for tp, recs in batch.items():
                out[tp] += recs
                if recs:
                    pos[tp] = recs[-1].offset + 1
            todo = {tp for tp in todo if c.highwater(tp) is None or pos[tp] < c.highwater(tp)}
        return [r for tp in tps for r in out[tp]]
    finally:
        await c.stop()


async def wait_for(cond: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Poll an async condition until true or fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not await cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


async def wait_ready(http: httpx.AsyncClient, alive: Callable[[], None], what: str,
                     timeout_s: float = 30) -> None:
    """Poll the worker's /readyz until it answers 200; ``alive`` fails the test at once if the
    worker has died meanwhile."""
    async def ready() -> bool:
        alive()
        with contextlib.suppress(httpx.TransportError):
            return (await http.get("/readyz")).status_code == 200
        return False
    await wait_for(ready, timeout_s, what)


@contextlib.asynccontextmanager
async def running_worker(s: Settings, redis: aioredis.Redis,
                         engine_factory: Callable[[Directory], Any]) -> AsyncIterator[Worker]:
    """A worker running in this event loop (its own metrics registry) until the block ends."""
    w = Worker(s, engine_factory, redis, await load_directory(redis, s.redis_prefix),
               Metrics(CollectorRegistry()))
    stop = asyncio.Event()
    await w.start()
    task = asyncio.create_task(w.run(stop))
    try:
        yield w
    finally:
        stop.set()
        await task
        await w.stop()


async def tasks_topic(s: Settings) -> list[bytes]:
    """Every value on the tasks topic."""
    return [v for _, v in await read_all(s.kafka_bootstrap, s.topic_tasks, **client_auth(s))]


@pytest.fixture(scope="module")
def sample() -> tuple[SampleData, list[dict[str, Any]], set[TaskKey]]:
    """A small generated bank, its events and the backtest's tasks on them."""
    return backtested_sample(200, 150, seed=5)


def backtested_sample(customers: int, days: int, seed: int
                      ) -> tuple[SampleData, list[dict[str, Any]], set[TaskKey]]:
    """A generated bank, its events and the backtest's tasks on them."""
    data = generate(customers, days, seed=seed)
    events = list(data.events())
    return data, events, backtest(data, events)


def backtest(data: SampleData, events: list[dict[str, Any]]) -> set[TaskKey]:
    """The backtest's tasks (id, revision, JSON) on ``events`` with ``data``'s directory."""
    out: list[Task] = []
    lines = ((i + 1, orjson.dumps(e)) for i, e in enumerate(events))
    replay(lines, [build_engine(RULES, data.directory())], lambda _: None,
           lambda _i, t: out.append(t))
    return {(t.task_id, t.revision, t.to_json()) for t in out}
