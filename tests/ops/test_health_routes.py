"""/metrics, /healthz, /readyz and POST /-/reload over real HTTP (aiohttp server on a free port,
and the threaded metrics server of ``alerting run --metrics-port``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from alerting.errors import RuleProblem, RulesError
from alerting.metrics import Metrics
from alerting.ops import all_ready, record_tasks, redis_ready, serve_health, start_metrics_server
from alerting.reload import RulesReloader
from alerting.tasks import Task
from alerting.web.health import add_health_routes


def ids_loader(path: Path) -> list[str]:
    """The reloader takes its loader as a parameter; these route tests check the HTTP wiring
    with a loader of rule ids (the real rules loader is exercised in test_rules_reload.py)."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise RulesError([RuleProblem("must be a list of ids", field="rules", line=1)])
    return data


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


async def client_for(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_metrics_healthz_and_readyz(metrics: Metrics) -> None:
    state = {"ready": False}

    async def ready() -> bool:
        return state["ready"]

    app = web.Application()
    add_health_routes(app, metrics_registry=metrics.registry, ready_check=ready)
    metrics.events.labels(topic="transactions", outcome="ok").inc(3)
    client = await client_for(app)
    try:
        resp = await client.get("/metrics")
        text = await resp.text()
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        assert 'alerting_events_total{outcome="ok",topic="transactions"} 3.0' in text
        assert (await client.get("/healthz")).status == 200
        resp = await client.get("/readyz")
        assert resp.status == 503 and (await resp.json())["status"] == "not_ready"
        state["ready"] = True
        assert (await client.get("/readyz")).status == 200
        assert (await client.post("/-/reload")).status in (404, 405)  # no reloader given
    finally:
        await client.close()


async def test_readyz_failing_or_hanging_check_is_503(metrics: Metrics) -> None:
    async def boom() -> bool:
        raise ConnectionError("redis://user:pw@host refused")

    async def hang() -> bool:
        await asyncio.Event().wait()
        return True

    for check, reason in ((boom, "ConnectionError"), (hang, "timeout")):
        app = web.Application()
        add_health_routes(app, metrics_registry=metrics.registry, ready_check=check,
                          ready_timeout_s=0.2)
        client = await client_for(app)
        try:
            resp = await client.get("/readyz")
            body = await resp.json()
            assert resp.status == 503 and body["reason"] == reason
            assert "pw" not in await resp.text()
        finally:
            await client.close()


async def test_post_reload_applies_or_rejects(tmp_path: Path, metrics: Metrics) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("[a, b]\n")
    applied: list[list[str]] = []
    reloader = RulesReloader(rules, applied.append, metrics, loader=ids_loader)
    reloader.load_initial()

    async def ready() -> bool:
        return True

    runner = await serve_health("127.0.0.1", 0, metrics_registry=metrics.registry,
                                ready_check=ready, reloader=reloader)
    port = runner.addresses[0][1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            rules.write_text("[a, b, c]\n")
            resp = await http.post("/-/reload")
            assert resp.status_code == 200
            assert resp.json() == {"ok": True, "rules": 3, "trigger": "http", "problems": []}
            assert applied == [["a", "b", "c"]]
            rules.write_text("{not: a list}\n")
            resp = await http.post("/-/reload")
            assert resp.status_code == 422
            body = resp.json()
            assert body["ok"] is False and body["rules"] == 3
            assert "must be a list of ids" in body["problems"][0]
            assert applied == [["a", "b", "c"]]
            text = (await http.get("/metrics")).text
            assert "alerting_rules_last_reload_success 0.0" in text
            assert 'alerting_rules_reloads_total{result="rejected",trigger="http"} 1.0' in text
    finally:
        await runner.cleanup()


def test_threaded_metrics_server(metrics: Metrics) -> None:
    state = {"ready": True}
    server = start_metrics_server(0, metrics.registry, host="127.0.0.1",
                                  ready=lambda: state["ready"])
    try:
        base = f"http://127.0.0.1:{server.port}"
        metrics.rules_loaded.set(7)
        assert "alerting_rules_loaded 7.0" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 200
        state["ready"] = False
        assert httpx.get(f"{base}/readyz").status_code == 503
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.close()


@pytest.mark.integration
async def test_redis_ready_against_real_redis() -> None:
    import redis.asyncio as aioredis

    good = aioredis.Redis(host="127.0.0.1", port=6379)
    try:
        assert await all_ready(lambda: True, redis_ready(good))()
        assert not await all_ready(lambda: False, redis_ready(good))()
    finally:
        await good.aclose()


def test_record_tasks_counts_and_logs(metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    def task(rev: int) -> Task:
        return Task(task_id="t-1", rule_id="r1", severity="high", customer_id="C1", title="x",
                    body="y", evidence={}, event_ids=["e"], created_at="2024-01-01T00:00:00Z",
                    due_at="2024-01-01T04:00:00Z", revision=rev)

    caplog.set_level("INFO", logger="alerting.tasks")
    assert record_tasks(metrics, [task(0), task(1)], latency_s=0.02) == 2
    reg = metrics.registry
    assert reg.get_sample_value("alerting_tasks_created_total",
                                {"rule": "r1", "severity": "high"}) == 1
    assert reg.get_sample_value("alerting_tasks_updated_total", {"rule": "r1"}) == 1
    assert reg.get_sample_value("alerting_event_to_task_latency_seconds_count") == 2
    assert [r.event for r in caplog.records] == ["task_created", "task_updated"]  # type: ignore


def test_engine_stats_recorder_adds_only_the_change(metrics: Metrics) -> None:
    from alerting.engine import EngineStats
    from alerting.ops import EngineStatsRecorder

    stats = EngineStats()
    rec = EngineStatsRecorder(metrics, topic="file")
    stats.duplicates, stats.late = 2, 1
    stats.suppressed["r1"] += 3
    rec.record(stats)
    stats.duplicates = 5
    stats.suppressed["r1"] += 1
    stats.suppressed["r2"] += 2
    rec.record(stats)
    rec.record(stats)
    reg = metrics.registry
    assert reg.get_sample_value("alerting_events_total",
                                {"topic": "file", "outcome": "duplicate"}) == 5
    assert reg.get_sample_value("alerting_events_total", {"topic": "file", "outcome": "late"}) == 1
    assert reg.get_sample_value("alerting_suppressed_total",
                                {"rule": "r1", "reason": "cooldown"}) == 4
    assert reg.get_sample_value("alerting_suppressed_total",
                                {"rule": "r2", "reason": "cooldown"}) == 2


def test_engine_stats_recorder_leaves_late_events_to_a_host_that_counts_them(
        metrics: Metrics) -> None:
    from alerting.engine import EngineStats
    from alerting.ops import EngineStatsRecorder

    stats = EngineStats()
    stats.duplicates, stats.late = 2, 3
    EngineStatsRecorder(metrics, topic="engine", count_late=False).record(stats)
    reg = metrics.registry
    assert reg.get_sample_value("alerting_events_total",
                                {"topic": "engine", "outcome": "duplicate"}) == 2
    assert reg.get_sample_value("alerting_events_total",
                                {"topic": "engine", "outcome": "late"}) is None
