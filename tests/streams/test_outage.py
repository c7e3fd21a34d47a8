"""Kafka failing under a running worker: the real broker behind ``proxy.Proxy``, which can take it
off the network (every connection reset, new ones refused: a broker restart or a network cut as
clients see it) or leave reads working while no write is ever answered. The worker, its Kafka
clients, the broker and Redis are real; the input is the end-to-end sample, produced up front,
and the tasks must equal the backtest's, each exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerting.errors import ServiceUnavailable
from alerting.metrics import Metrics
from alerting.settings import Settings
from alerting.streams.app import rules_engine_factory
from alerting.streams.directory import load_directory
from alerting.streams.worker import Worker

from .broker import Broker
from .conftest import RULES, running_worker, wait_for
from .proxy import Proxy, proxied_broker
from .test_e2e import as_set, prepare, settle, spawn

pytestmark = pytest.mark.integration
PRODUCE = 0  # the Kafka API key of Produce requests


@pytest.fixture()
def cut_broker() -> Iterator[tuple[Broker, Proxy]]:
    """A broker that clients reach only through a proxy that can take it away."""
    with proxied_broker(Proxy) as pair:
        yield pair


async def test_a_broker_outage_mid_stream_is_ridden_through(
        settings: Settings, redis: aioredis.Redis, sample: Any,
        cut_broker: tuple[Broker, Proxy]) -> None:
    """Kafka gone for 5 s, longer than the group session, from the worker's first events on:
    its clients reconnect by themselves and the worker goes on, without a restart."""
    data, events, want = sample
    broker, proxy = cut_broker
    s = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap, "rules_path": RULES,
                                    "max_batch": 40})
    await prepare(s, redis, data, events)
    async with running_worker(s, redis, rules_engine_factory(s)) as w:
        async def started() -> bool:
            return w.stats["events"] > 0
        await wait_for(started, 60, "the first events")
        proxy.cut()
        await asyncio.sleep(5)  # the outage itself, not a wait for something
        proxy.restore()
        got = await settle(s, len(want), 90)
        assert not w.failed and w.stats["events"] == len(events)
    assert len(got) == len(set(got)), "a task was delivered twice"
    assert as_set(got) == want


async def test_writes_never_acknowledged_stop_the_worker_and_a_restart_delivers_each_task_once(
        settings: Settings, redis: aioredis.Redis, sample: Any,
        cut_broker: tuple[Broker, Proxy]) -> None:
    """The broker serves the input but answers no produce request: the worker's first task
    send times out, the worker stops on it (no checkpoint covers a task that was not
    acknowledged), and a worker started once writes work again delivers every task once."""
    data, events, want = sample
    broker, proxy = cut_broker
    s = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap, "rules_path": RULES,
                                    "max_batch": 40, "request_timeout_ms": 3000})
    await prepare(s, redis, data, events)
    proxy.unanswered = frozenset({PRODUCE})
    w = Worker(s, rules_engine_factory(s), redis, await load_directory(redis, s.redis_prefix),
               Metrics(CollectorRegistry()))
    await w.start()
    run = asyncio.create_task(w.run(asyncio.Event()))
    try:
        with pytest.raises(ServiceUnavailable, match="kafka: producing output failed"):
            await asyncio.wait_for(run, 60)
        assert w.failed and w.stats["tasks"] > 0
    finally:
        await w.stop()
    proxy.unanswered = frozenset()
    async with running_worker(s, redis, rules_engine_factory(s)):
        got = await settle(s, len(want), 90)
    assert len(got) == len(set(got)), "a task was delivered twice"
    assert as_set(got) == want


@pytest.mark.parametrize("runner", ["faust", "asyncio"])
async def test_a_worker_process_that_stops_on_a_failed_write_exits_1_with_the_reason(
        settings: Settings, redis: aioredis.Redis, sample: Any,
        cut_broker: tuple[Broker, Proxy], runner: str) -> None:
    """Exit code 1 (a crash: restart it), not 2 (unusable at start), and the reason as the last
    line without a traceback, on both runners."""
    data, events, _ = sample
    broker, proxy = cut_broker
    s = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap, "rules_path": RULES,
                                    "request_timeout_ms": 3000, "runner": runner})
    await prepare(s, redis, data, events)
    proxy.unanswered = frozenset({PRODUCE})
    proc = spawn(s)
    try:
        code = await asyncio.to_thread(proc.wait, 90)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 1, err
    reason = "stopped: kafka: producing output failed: RequestTimedOutError"
    assert err.strip().splitlines()[-1] == f"alerting worker: {reason}"
    assert "Traceback" not in err, err  # the reason is the whole story: no stack to read
