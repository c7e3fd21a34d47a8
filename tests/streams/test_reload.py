"""Hot reload, readiness and metrics of the running worker (``run_worker`` in process, the real
Tansu broker, the machine's Redis, the real rules engine and a rules file on disk)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from local_http import serve as serve_http
from prometheus_client import CollectorRegistry

from alerting.directory import Directory
from alerting.metrics import Metrics
from alerting.settings import Settings
from alerting.streams.app import health_hook, run_worker
from alerting.streams.faust_app import serve
from alerting.streams.topics import ensure_topics
from alerting.streams.worker import Worker

from .broker import free_port
from .conftest import produce_events, read_all, wait_for, wait_ready

pytestmark = pytest.mark.integration

ONE_RULE = """\
version: 1
rules:
  - id: big
    kind: threshold
    severity: high
    where: event.kind == "withdrawal" and event.amount >= 1000
    title: "big"
"""
TWO_RULES = ONE_RULE + """\
  - id: medium
    kind: threshold
    severity: low
    where: event.kind == "withdrawal" and event.amount >= 100 and event.amount < 1000
    title: "medium"
"""
BAD = ONE_RULE.replace("event.amount >= 1000", "event.amonut >= 1000")


def withdrawal(n: int, customer: str, amount: str) -> dict[str, Any]:
    return {"type": "transaction", "event_id": f"e{n}", "customer_id": customer,
            "account_id": "A1", "ts": f"2025-03-0{n}T10:00:00+08:00", "kind": "withdrawal",
            "amount": amount, "channel": "counter"}


def value(m: Metrics, name: str) -> float | None:
    return m.registry.get_sample_value(name, {})


@contextlib.asynccontextmanager
async def live_worker(s: Settings, m: Metrics) -> AsyncIterator[asyncio.Task[None]]:
    """The worker process's runner in process: the faust app or the asyncio fallback."""
    stop = asyncio.Event()
    run = serve(s, stop, metrics=m) if s.runner == "faust" else run_worker(s, metrics=m,
                                                                           stop=stop)
    task = asyncio.create_task(run)
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.mark.parametrize("runner", ["faust", "asyncio"])
async def test_hot_reload_keeps_last_good_rules_and_applies_fixes(
        settings: Settings, redis: aioredis.Redis, tmp_path: Path, runner: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(ONE_RULE, encoding="utf-8")
    port = free_port()
    s = settings.model_copy(update={"rules_path": rules, "web_enabled": True, "runner": runner,
                                    "web_port": port, "rules_watch_interval_s": 0.1})
    m = Metrics(CollectorRegistry())
    await ensure_topics(s)

    async def rules_of_tasks() -> list[tuple[str, str]]:
        return sorted((d["customer_id"], d["rule_id"]) for _, v in
                      await read_all(s.kafka_bootstrap, s.topic_tasks) for d in [orjson.loads(v)])

    async with live_worker(s, m) as task, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}") as http:
        def alive() -> None:
            assert not task.done(), task
        await wait_ready(http, alive, "the worker ready")
        assert value(m, "alerting_rules_loaded") == 1
        await produce_events(s, [withdrawal(1, "C1", "5000")])

        async def has(want: list[tuple[str, str]]) -> bool:
            return await rules_of_tasks() == want
        await wait_for(lambda: has([("C1", "big")]), 30, "the first task")

        # a bad edit: metric 0, the old rule keeps producing tasks
        rules.write_text(BAD, encoding="utf-8")
        await wait_for(lambda: _is(m, "alerting_rules_last_reload_success", 0), 10,
                       "the bad edit rejected")
        await produce_events(s, [withdrawal(2, "C2", "6000"), withdrawal(3, "C3", "500")])
        await wait_for(lambda: has([("C1", "big"), ("C2", "big")]), 30,
                       "tasks from the old rules")
        assert (await http.post("/-/reload")).status_code == 422

        # the fix applies to later events
        rules.write_text(TWO_RULES, encoding="utf-8")
        await wait_for(lambda: _is(m, "alerting_rules_last_reload_success", 1), 10,
                       "the fix applied")
        assert value(m, "alerting_rules_loaded") == 2
        await produce_events(s, [withdrawal(4, "C4", "500")])
        await wait_for(lambda: has([("C1", "big"), ("C2", "big"), ("C4", "medium")]), 30,
                       "a task from the new rule")
        r = await http.post("/-/reload")
        assert r.status_code == 200 and r.json()["rules"] == 2
        assert (value(m, "alerting_state_customers") or 0) >= 4
        assert "alerting_tasks_created_total" in (await http.get("/metrics")).text


async def _is(m: Metrics, name: str, want: float) -> bool:
    return value(m, name) == want


async def test_readyz_needs_consuming_and_redis(settings: Settings) -> None:
    """Readiness is consuming AND Redis answering: a worker whose Redis client points at a
    closed port is not ready even with its partitions assigned."""
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0",
                                   socket_connect_timeout=0.5)
    live = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    m = Metrics(CollectorRegistry())
    try:
        for client, consuming, want in ((live, True, 200), (live, False, 503),
                                        (dead, True, 503)):
            w = Worker(settings, lambda d: None, client, Directory(), m)  # type: ignore[arg-type,return-value]
            if consuming:
                w.ready.set()
            app = web.Application()
            health_hook(app, w)
            async with serve_http(app) as url, httpx.AsyncClient() as http:
                r = await http.get(f"{url}/readyz")
            assert r.status_code == want, (consuming, r.text)
    finally:
        await dead.aclose()
        await live.aclose()


ROUTED = ONE_RULE + """\
routing:
  route: {receiver: RECEIVER, group_by: [customer], group_wait: 0s}
  receivers:
    - name: a
      notifiers: [{type: webhook, name: hook-a, url: "URL/a"}]
    - name: b
      notifiers: [{type: webhook, name: hook-b, url: "URL/b", secret: SECRET}]
"""


@contextlib.asynccontextmanager
async def receiving_server() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A real local HTTP server recording (path, notification) of every POST."""
    got: list[tuple[str, dict[str, Any]]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((request.path, orjson.loads(await request.read())))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    async with serve_http(app) as url:
        yield url, got


@pytest.mark.parametrize("runner", ["faust", "asyncio"])
async def test_a_routing_change_reaches_the_dispatcher_without_a_restart(
        settings: Settings, redis: aioredis.Redis, tmp_path: Path, runner: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks go to receiver a; a reload that routes them to b (a new notifier) takes effect
    for the next task; a reload whose new notifier lacks its secret is rejected and the
    routing stays as it was."""
    rules = tmp_path / "rules.yaml"
    port = free_port()
    s = settings.model_copy(update={"rules_path": rules, "web_enabled": True, "runner": runner,
                                    "web_port": port, "dispatch": True})
    m = Metrics(CollectorRegistry())
    await ensure_topics(s)
    monkeypatch.delenv("ALERTING_TEST_HOOK_SECRET", raising=False)
    async with receiving_server() as (url, got):
        def routed(receiver: str, secret: str) -> str:
            return (ROUTED.replace("RECEIVER", receiver).replace("URL", url)
                    .replace("SECRET", secret))
        rules.write_text(routed("a", "plain-secret"), encoding="utf-8")

        async def paths() -> list[str]:
            return sorted(p for p, _ in got)
        async with live_worker(s, m) as task, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}") as http:
            def alive() -> None:
                assert not task.done(), task
            await wait_ready(http, alive, "the worker ready")
            await produce_events(s, [withdrawal(1, "C1", "5000")])
            await wait_for(lambda: _has(paths, ["/a"]), 30, "the first task's notification")

            rules.write_text(routed("b", "env:ALERTING_TEST_HOOK_SECRET"), encoding="utf-8")
            r = await http.post("/-/reload")
            assert r.status_code == 422, r.text  # hook-b's secret is not set
            assert any("ALERTING_TEST_HOOK_SECRET" in p for p in r.json()["problems"])
            await produce_events(s, [withdrawal(2, "C2", "6000")])
            await wait_for(lambda: _has(paths, ["/a", "/a"]), 30, "still routed to a")

            monkeypatch.setenv("ALERTING_TEST_HOOK_SECRET", "from-the-env")
            assert (await http.post("/-/reload")).status_code == 200
            await produce_events(s, [withdrawal(3, "C3", "7000")])
            await wait_for(lambda: _has(paths, ["/a", "/a", "/b"]), 30, "routed to b")
    assert len({n["tasks"][0]["task_id"] for _, n in got}) == 3  # one per task


async def _has(paths: Any, want: list[str]) -> bool:
    return await paths() == want
