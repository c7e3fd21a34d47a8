"""The task JSON API over HTTP (aiohttp test server), on the memory store and real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from web_seed import NOW_S, SECRET, demo_tasks, seed

from alerting.directory import Directory
from alerting.errors import ConfigError
from alerting.metrics import Metrics
from alerting.store.base import TaskStore
from alerting.store.memory import MemoryTaskStore
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task
from alerting.web.app import WebServices, create_app, make_services, worker_web_hook
from alerting.web.auth import issue_token

Auth = Callable[[str], dict[str, str]]


def by_rule(tasks: list[Task], rule: str) -> Task:
    return next(t for t in tasks if t.rule_id == rule)


async def test_list_requires_a_token(client: TestClient) -> None:
    r = await client.get("/api/tasks")
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    body = await r.json()
    assert body["error"] == "unauthorized"


async def test_bad_signature_and_expired_tokens_are_401(client: TestClient, auth: Auth) -> None:
    good = auth("m1")["Authorization"]
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    r = await client.get("/api/tasks", headers={"Authorization": forged})
    assert r.status == 401
    other_secret = issue_token(SecretStr("another-secret-0123456789"), "m1", now=NOW_S)
    r = await client.get("/api/tasks", headers={"Authorization": f"Bearer {other_secret}"})
    assert r.status == 401
    expired = issue_token(SecretStr("test-secret-0123456789abcdef"), "m1", now=NOW_S - 7200,
                          ttl_s=3600)
    r = await client.get("/api/tasks", headers={"Authorization": f"Bearer {expired}"})
    assert r.status == 401
    assert (await r.json())["detail"] == "token expired"
    # a token for m1 relabelled as m3 keeps m1's signature: rejected
    relabelled = "m3" + good.removeprefix("Bearer m1")
    r = await client.get("/api/tasks", headers={"Authorization": f"Bearer {relabelled}"})
    assert r.status == 401


async def test_manager_lists_only_own_tasks_sorted(client: TestClient, auth: Auth,
                                                   tasks: list[Task]) -> None:
    r = await client.get("/api/tasks", headers=auth("m1"))
    assert r.status == 200
    body = await r.json()
    assert body["viewer"] == "m1"
    got = [t["rule_id"] for t in body["tasks"]]
    # due 12:00 (critical) before due 18:30
    assert got == ["large_withdrawal", "transfer_out_other_bank"]
    assert {t["assignee_id"] for t in body["tasks"]} == {"m1"}


async def test_supervisor_sees_the_team_but_not_other_teams(client: TestClient,
                                                            auth: Auth) -> None:
    body = await (await client.get("/api/tasks", headers=auth("s1"))).json()
    assert {t["assignee_id"] for t in body["tasks"]} == {"m1", "m2"}
    body = await (await client.get("/api/tasks", headers=auth("v1"))).json()
    assert {t["assignee_id"] for t in body["tasks"]} == {"m1", "m2", "m3"}


async def test_filters_by_status_and_rule(client: TestClient, auth: Auth,
                                          tasks: list[Task]) -> None:
    r = await client.get("/api/tasks", params={"rule": "large_withdrawal"}, headers=auth("s1"))
    assert [t["rule_id"] for t in (await r.json())["tasks"]] == ["large_withdrawal"]
    r = await client.get("/api/tasks", params={"status": "resolved"}, headers=auth("s1"))
    assert (await r.json())["tasks"] == []
    r = await client.get("/api/tasks", params={"status": "closed"}, headers=auth("s1"))
    assert r.status == 422
    assert (await r.json())["error"] == "bad_status"


async def test_get_own_task_other_managers_task_and_unknown(client: TestClient, auth: Auth,
                                                            tasks: list[Task]) -> None:
    mine = by_rule(tasks, "large_withdrawal")
    r = await client.get(f"/api/tasks/{mine.task_id}", headers=auth("m1"))
    assert r.status == 200
    body = await r.json()
    assert body["evidence"]["amount"] == "250000.00"
    assert body["event_ids"] == mine.event_ids
    r = await client.get(f"/api/tasks/{mine.task_id}", headers=auth("m3"))
    assert r.status == 403
    assert await r.json() == {"error": "forbidden", "detail": "task not visible to this manager"}
    r = await client.get(f"/api/tasks/{mine.task_id}", headers=auth("m2"))  # a peer
    assert r.status == 403
    r = await client.get(f"/api/tasks/{mine.task_id}", headers=auth("s1"))  # the supervisor
    assert r.status == 200
    r = await client.get("/api/tasks/t-doesnotexist", headers=auth("m1"))
    assert r.status == 404
    assert (await r.json())["error"] == "not_found"


async def test_ack_then_resolve_updates_the_store(client: TestClient, auth: Auth,
                                                  tasks: list[Task], store: TaskStore) -> None:
    t = by_rule(tasks, "large_withdrawal")
    r = await client.post(f"/api/tasks/{t.task_id}/ack", json={"note": "called"},
                          headers=auth("m1"))
    assert r.status == 200
    assert (await r.json())["status"] == "acknowledged"
    stored = await store.get(t.task_id)
    assert stored.status == "acknowledged"
    assert stored.acknowledged_at == "2026-03-02T13:00:00+08:00"  # the injected clock
    r = await client.post(f"/api/tasks/{t.task_id}/resolve",
                          json={"outcome": "retained", "note": "buying a flat; mortgage"},
                          headers=auth("m1"))
    assert r.status == 200
    stored = await store.get(t.task_id)
    assert (stored.status, stored.outcome, stored.note) == ("resolved", "retained",
                                                            "buying a flat; mortgage")
    assert [h["action"] for h in stored.history] == ["acknowledged", "resolved"]
    r = await client.post(f"/api/tasks/{t.task_id}/resolve", json={"outcome": "retained"},
                          headers=auth("m1"))
    assert r.status == 409


async def test_bad_outcome_is_422_and_changes_nothing(client: TestClient, auth: Auth,
                                                      tasks: list[Task],
                                                      store: TaskStore) -> None:
    t = by_rule(tasks, "large_withdrawal")
    for body in ({"outcome": "happy"}, {}, {"outcome": 3}):
        r = await client.post(f"/api/tasks/{t.task_id}/resolve", json=body, headers=auth("m1"))
        assert r.status == 422
        assert (await r.json())["error"] == "bad_outcome"
    r = await client.post(f"/api/tasks/{t.task_id}/resolve", data=b"{not json",
                          headers={**auth("m1"), "Content-Type": "application/json"})
    assert r.status == 400
    r = await client.post(f"/api/tasks/{t.task_id}/resolve",
                          json={"outcome": "retained", "note": "x" * 5000}, headers=auth("m1"))
    assert r.status == 422
    assert (await store.get(t.task_id)).status == "open"


async def test_cannot_act_on_another_managers_task(client: TestClient, auth: Auth,
                                                   tasks: list[Task], store: TaskStore) -> None:
    t = by_rule(tasks, "complaint_sla")  # m3's
    r = await client.post(f"/api/tasks/{t.task_id}/ack", headers=auth("m1"))
    assert r.status == 403
    r = await client.post(f"/api/tasks/{t.task_id}/resolve", json={"outcome": "contacted"},
                          headers=auth("s1"))
    assert r.status == 403
    assert (await store.get(t.task_id)).status == "open"
    r = await client.post(f"/api/tasks/{t.task_id}/ack", headers=auth("s2"))  # m3's supervisor
    assert r.status == 200


async def test_effectiveness_api_reflects_resolutions(client: TestClient, auth: Auth,
                                                      tasks: list[Task]) -> None:
    t = by_rule(tasks, "large_withdrawal")
    await client.post(f"/api/tasks/{t.task_id}/resolve", json={"outcome": "false_alarm"},
                      headers=auth("m1"))
    body = await (await client.get("/api/effectiveness", headers=auth("m1"))).json()
    row = next(r for r in body["rules"] if r["rule_id"] == "large_withdrawal")
    assert (row["created"], row["acknowledged"], row["resolved"]) == (1, 1, 1)
    assert row["false_alarm_share"] == 1.0
    assert row["ack_median_s"] == 3 * 3600.0  # created 10:00, resolved at the clock's 13:00
    assert not row["flagged"]  # fewer than 5 resolved
    r = await client.get("/api/effectiveness", params={"days": "x"}, headers=auth("m1"))
    assert r.status == 422


async def test_health_routes_are_mounted(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    r = await client.get("/metrics")
    assert "alerting_" in await r.text()


async def test_gauges_are_refreshed_in_the_background(services: WebServices, tasks: list[Task],
                                                      store: TaskStore) -> None:
    reg = services.metrics.registry if services.metrics else None
    assert reg is not None
    t = by_rule(tasks, "dormant_wakeup")
    await services.tasks.resolve("m2", t.task_id, "converted")
    fast = replace(services, effectiveness_refresh_s=0.02)
    client = TestClient(TestServer(create_app(fast)))
    await client.start_server()
    try:
        labels = {"rule": "dormant_wakeup", "outcome": "converted"}
        deadline = asyncio.get_running_loop().time() + 5
        while reg.get_sample_value("alerting_rule_outcome_share", labels) != 1.0:
            assert asyncio.get_running_loop().time() < deadline, "gauge never refreshed"
            await asyncio.sleep(0.01)
        assert reg.get_sample_value("alerting_rule_false_alarm_flagged",
                                    {"rule": "dormant_wakeup"}) == 0.0
    finally:
        await client.close()


async def test_make_services_reads_the_secret_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, directory: Directory) -> None:
    monkeypatch.delenv("ALERTING_API_SECRET", raising=False)
    with pytest.raises(ConfigError, match="ALERTING_API_SECRET"):
        make_services(MemoryTaskStore(), directory)
    monkeypatch.setenv("ALERTING_API_SECRET", "x" * 32)
    svc = make_services(MemoryTaskStore(), directory, default_locale="en")
    assert svc.secret.get_secret_value() == "x" * 32
    assert "x" * 32 not in repr(svc)  # SecretStr never prints the secret
    assert svc.default_locale == "en"


async def test_worker_hook_mounts_the_api_on_the_workers_app(
        monkeypatch: pytest.MonkeyPatch, directory: Directory, metrics: Metrics) -> None:
    """The hook reads the worker's Redis client, key prefix, directory and metrics (the
    worker object here carries just those attributes, with the machine's real Redis)."""
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisTaskStore(client, prefix=prefix)
    worker = SimpleNamespace(redis=client, s=SimpleNamespace(redis_prefix=prefix),
                             directory=directory, m=metrics)
    try:
        [task] = await seed(store, demo_tasks()[:1])
        monkeypatch.delenv("ALERTING_API_SECRET", raising=False)
        bare = web.Application()
        worker_web_hook(bare, worker)
        assert not any(r.resource and r.resource.canonical == "/api/tasks"
                       for r in bare.router.routes())  # no secret: not mounted
        monkeypatch.setenv("ALERTING_API_SECRET", SECRET)
        app = web.Application()
        worker_web_hook(app, worker)
        tc = TestClient(TestServer(app))
        await tc.start_server()
        try:
            token = issue_token(SecretStr(SECRET), "m1", now=time.time())
            r = await tc.get(f"/api/tasks/{task.task_id}",
                             headers={"Authorization": f"Bearer {token}"})
            assert r.status == 200
            assert (await tc.get("/api/tasks")).headers["X-Frame-Options"] == "DENY"
        finally:
            await tc.close()
    finally:
        await store.delete_all()
        await client.aclose()
