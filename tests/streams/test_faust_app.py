"""The worker as a faust-streaming app, in process (``faust_app.serve``) on the real Tansu broker
and Redis: faust declares the topics, faust's timer drives the watermark, faust's aiohttp server
serves our routes (and not faust's own pages), and faust's own consumer is off (Tansu does not
list consumer groups, so that is checked on the boot strategy)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from alerting.settings import Settings
from alerting.streams.faust_app import prepare, serve
from alerting.streams.recovery import topic_partitions
from alerting.streams.topics import topic_specs

from .broker import free_port
from .conftest import produce_events, read_all, wait_for, wait_ready
from .events import make_events
from .stub_engine import StubEngine

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def faust_worker(s: Settings) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(s, stop, engine_factory=lambda d: StubEngine(d),
                                     metrics=Metrics(CollectorRegistry())))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_faust_declares_topics_and_its_timer_fires_inactivity(
        settings: Settings, redis: aioredis.Redis) -> None:
    """No topic exists before the app starts; in wall-clock mode only the faust timer advances
    idle shards (the batch loop does not tick), so every customer's inactivity task proves it."""
    s = settings.model_copy(update={"watermark": "wall"})
    async with faust_worker(s) as task:
        c = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap)
        await c.start()
        try:
            async def declared() -> bool:
                assert not task.done(), task
                sizes = [len(await topic_partitions(c, n)) for n in topic_specs(s)]
                return sizes == [s.partitions] * len(sizes)
            await wait_for(declared, 30, "topics declared by faust")
        finally:
            await c.stop()
        events = make_events(customers=6, per_customer=4)
        await produce_events(s, events)
        customers = {e["customer_id"] for e in events}

        async def all_idle() -> bool:
            idle = {d["customer_id"] for _, v in await read_all(s.kafka_bootstrap,
                                                                  s.topic_tasks)
                    for d in [orjson.loads(v)] if d["rule_id"] == "idle"}
            return idle == customers
        await wait_for(all_idle, 30, "inactivity tasks from the faust timer")


async def test_faust_web_serves_our_routes_only(settings: Settings, redis: aioredis.Redis,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Health, metrics, reload, the task API and the inbox on faust's aiohttp server; faust's
    index and router pages are off (``/`` is the managers' inbox)."""
    monkeypatch.setenv("ALERTING_API_SECRET", "x" * 32)
    port = free_port()
    rules = Path(__file__).resolve().parents[2] / "alerting" / "data" / "rules.yaml"
    s = settings.model_copy(update={"web_enabled": True, "web_port": port, "dispatch": True,
                                    "rules_path": rules})
    stop = asyncio.Event()
    task = asyncio.create_task(serve(s, stop, metrics=Metrics(CollectorRegistry())))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            def alive() -> None:
                assert not task.done(), task
            await wait_ready(http, alive, "ready")
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            assert "alerting_rules_loaded" in (await http.get("/metrics")).text
            assert (await http.post("/-/reload")).status_code == 200
            assert (await http.get("/api/tasks")).status_code == 401
            assert (await http.get("/login")).status_code == 200
            assert (await http.get("/router/")).status_code == 404
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_unreachable_kafka_fails_before_faust_starts(settings: Settings) -> None:
    from alerting.errors import ServiceUnavailable

    s = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}",
                                    "connect_timeout_s": 2})
    with pytest.raises(ServiceUnavailable, match="kafka at .* unreachable"):
        await prepare(s, engine_factory=lambda d: StubEngine(d),
                      metrics=Metrics(CollectorRegistry()))


def test_app_has_no_consumer_and_no_index_page(settings: Settings) -> None:
    """Checked without a broker too: faust's consumer is off in the boot strategy."""
    from faust.app.base import BootStrategy

    from alerting.streams.faust_app import AlertingApp, AlertingWeb, faust_settings

    app = AlertingApp("x", **faust_settings(settings))
    boot = app.boot_strategy
    assert isinstance(boot, BootStrategy)
    assert list(boot.kafka_consumer()) == [] and list(boot.tables()) == []
    assert AlertingWeb.production_blueprints == ()


class _Broken(StubEngine):
    def process(self, ev: object) -> list:  # type: ignore[type-arg]
        raise RuntimeError("engine bug outside the per-event guard")


async def test_a_crash_of_the_batch_loop_stops_the_app(settings: Settings,
                                                       redis: aioredis.Redis,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """faust's supervision: an exception escaping the batch loop crashes the app, which stops
    cleanly and re-raises it (``alerting worker`` then exits non-zero and is restarted). A bug
    keeps its traceback in the crash report (only the loop's deliberate stops drop theirs)."""
    await produce_events(settings, make_events(customers=1, per_customer=1))
    stop = asyncio.Event()
    run = serve(settings, stop, engine_factory=lambda d: _Broken(d),
                metrics=Metrics(CollectorRegistry()))
    with pytest.raises(RuntimeError, match="engine bug"):
        await asyncio.wait_for(run, 30)
    crashed = [r for r in caplog.records if r.getMessage().endswith(
        "Crashed reason=RuntimeError('engine bug outside the per-event guard')")]
    assert crashed and crashed[0].exc_info is not None
    # the half-applied batch was not checkpointed: a restart replays the event
    for p in range(settings.partitions):
        raw: dict[bytes, bytes] = await redis.hgetall(  # type: ignore[misc,assignment]
            f"{settings.redis_prefix}ckpt:{settings.group_id}:{p}")
        assert not any(int(v) for k, v in raw.items() if k.startswith(b"o:")), raw
