"""End to end: dispatcher over the real Redis task store, the real Outbox and the real webhook
notifier, delivering to a real local HTTP server that verifies the HMAC signature. The clock of
the dispatcher and outbox is injected; the webhook signs with the wall clock."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from local_http import serve
from prometheus_client import CollectorRegistry

from alerting.directory import Directory
from alerting.metrics import Metrics
from alerting.notifiers.registry import NotifierDeps
from alerting.notifiers.webhook import verify_signature
from alerting.routing.build import build_dispatch
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.store.lifecycle import TaskService
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task
from alerting.timeutil import HOUR, SECOND

pytestmark = pytest.mark.integration
SECRET = "s3cret-for-tests"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify_signature(SECRET.encode(), request.headers.get("X-Alerting-Timestamp"),
                              request.headers.get("X-Alerting-Signature"), body,
                              now=time.time())
        if not ok:
            return web.Response(status=401)
        got.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", handle)
    async with serve(app) as url:
        yield f"{url}/hook", got


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisTaskStore]:
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    store = RedisTaskStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    yield store
    await store.delete_all()
    await client.aclose()


async def test_tasks_escalate_and_arrive_signed(
        receiver: tuple[str, list[dict[str, Any]]], redis_store: RedisTaskStore,
        directory: Directory, clock: Any, make_task: Callable[..., Task]) -> None:
    url, got = receiver
    routing = RoutingSpec.model_validate({
        "route": {"receiver": "hook", "group_wait": "10s"},
        "receivers": [{"name": "hook", "notifiers": [
            {"type": "webhook", "url": url, "secret": SECRET}]}],
        "escalation": {"ack_deadline": {"high": "2h"}}})
    metrics = Metrics(CollectorRegistry())
    async with httpx.AsyncClient() as http:
        d, outbox = build_dispatch(routing, CalendarSpec(), directory, redis_store,
                                   NotifierDeps(http=http), metrics=metrics, clock=clock)
        await d.handle([make_task("t-1"), make_task("t-2", severity="medium")])
        clock.advance(10 * SECOND)
        await d.tick()
        sent = await outbox.run_once(clock())
        assert sent == 1, (outbox.stats, await outbox.dead_letters())
        assert [n["kind"] for n in got] == ["task"]
        assert got[0]["title"] == "2 条新任务" and len(got[0]["tasks"]) == 2
        # the high task escalates after 2h; the acknowledged medium one does not
        await TaskService(redis_store, directory, clock).acknowledge("m1", "t-2")
        clock.advance(2 * HOUR)
        await d.tick()
        sent = await outbox.run_once(clock())
        assert sent == 1, (outbox.stats, await outbox.dead_letters())
        esc = [n for n in got if n["kind"] == "escalation"]
        assert [(n["recipient_id"], n["tasks"][0]["task_id"]) for n in esc] == [("s1", "t-1")]
        t = await redis_store.get("t-1")
        assert (t.assignee_id, t.escalation_level) == ("s1", 1)
        assert [x.task_id for x in await TaskService(redis_store, directory, clock)
                .list_for("s1")] == ["t-1", "t-2"]  # same due: high first
        await outbox.aclose()
