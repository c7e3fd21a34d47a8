"""``alerting tasks list|show|ack|resolve`` end to end against the machine's real Redis
(unique prefix per test, keys deleted afterwards)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import orjson
import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner

from alerting.cli import app
from alerting.directory import Manager
from alerting.store.redis import RedisTaskStore
from alerting.streams.directory import save_directory
from alerting.tasks import Task

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.integration

MANAGERS = [Manager("s1", role="supervisor"), Manager("m1", supervisor_id="s1"),
            Manager("m2", supervisor_id="s1"), Manager("m3")]


def task(task_id: str, assignee: str, due_ms: int, severity: str = "high") -> Task:
    return Task(task_id=task_id, rule_id="large_withdrawal", severity=severity,
                customer_id="C1", title=f"Large withdrawal {task_id}", body="withdrew 250,000.00",
                evidence={"amount": "250000.00"}, event_ids=["e1"],
                created_at="2026-09-28T10:00:00+08:00", due_at="2026-09-28T18:00:00+08:00",
                created_ms=1_790_560_800_000, due_ms=due_ms, assignee_id=assignee,
                escalate_at_ms=due_ms)


async def _seed(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await save_directory(client, prefix, [], MANAGERS)
        store = RedisTaskStore(client, prefix)
        for t in (task("t-a", "m1", 300), task("t-b", "m2", 100), task("t-c", "m3", 200),
                  task("t-d", "m1", 300, "critical")):
            await store.upsert_emitted(t)
    finally:
        await client.aclose()


async def _cleanup(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    prefix = f"test:{uuid.uuid4().hex}:"
    asyncio.run(_seed(prefix))
    try:
        yield {"ALERTING_REDIS_URL": REDIS_URL, "ALERTING_REDIS_PREFIX": prefix}
    finally:
        asyncio.run(_cleanup(prefix))


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["tasks", *args], env=env)
    return r.exit_code, r.output


def test_list_as_manager_and_supervisor(env: dict[str, str]) -> None:
    code, out = run(env, "list", "--as", "m1")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["t-d", "t-a"]
    code, out = run(env, "list", "--as", "s1", "--json")
    assert [t["task_id"] for t in orjson.loads(out)] == ["t-b", "t-d", "t-a"]
    code, out = run(env, "list")  # operator view
    assert [line.split()[0] for line in out.splitlines()] == ["t-b", "t-c", "t-d", "t-a"]


def test_show_respects_visibility(env: dict[str, str]) -> None:
    code, out = run(env, "show", "t-a", "--as", "s1")
    assert code == 0 and "evidence amount = 250000.00" in out
    code, out = run(env, "show", "t-c", "--as", "m1")
    assert code == 3 and "not visible" in out
    code, out = run(env, "show", "t-zzz")
    assert code == 1 and "no task" in out


def test_ack_then_resolve(env: dict[str, str]) -> None:
    code, out = run(env, "ack", "t-a", "--as", "m1", "--note", "called")
    assert code == 0 and "acknowledged" in out
    code, out = run(env, "list", "--as", "m1", "--status", "open")
    assert [line.split()[0] for line in out.splitlines()] == ["t-d"]
    code, out = run(env, "resolve", "t-a", "--as", "s1", "--outcome", "retained",
                    "--note", "kept the deposit", "--json")
    t = orjson.loads(out)
    assert code == 0 and (t["status"], t["outcome"], t["note"]) == ("resolved", "retained",
                                                                   "kept the deposit")
    assert [h["action"] for h in t["history"]] == ["acknowledged", "resolved"]
    assert [h["by"] for h in t["history"]] == ["m1", "s1"]
    code, out = run(env, "resolve", "t-a", "--as", "s1", "--outcome", "retained")
    assert code == 3 and "already resolved" in out


def test_errors(env: dict[str, str]) -> None:
    code, out = run(env, "ack", "t-c", "--as", "m1")
    assert code == 3
    code, out = run(env, "resolve", "t-b", "--as", "m2", "--outcome", "maybe")
    assert code == 3 and "outcome must be one of" in out
    code, out = run(env, "ack", "t-b")
    assert code == 2  # --as is required
    code, out = run(env, "list", "--status", "pending")
    assert code == 2
    code, out = run({**env, "ALERTING_REDIS_URL": "redis://127.0.0.1:1/0"}, "list")
    assert code == 4 and "Redis unavailable" in out


def test_token_command_issues_a_verifiable_token(monkeypatch):
    import time

    from typer.testing import CliRunner

    from alerting.cli import app
    from alerting.web.auth import secret_from_env, verify_token

    monkeypatch.setenv("ALERTING_API_SECRET", "s" * 32)
    res = CliRunner().invoke(app, ["tasks", "token", "m1", "--ttl", "2h"])
    assert res.exit_code == 0, res.output
    assert verify_token(secret_from_env(), res.output.strip(), now=time.time()) == "m1"
    assert verify_token(secret_from_env(), res.output.strip(), now=time.time() + 7100) == "m1"


def test_token_command_without_secret_is_one_clear_line(monkeypatch):
    from typer.testing import CliRunner

    from alerting.cli import app

    monkeypatch.delenv("ALERTING_API_SECRET", raising=False)
    res = CliRunner().invoke(app, ["tasks", "token", "m1"])
    assert res.exit_code == 2
    assert "ALERTING_API_SECRET" in res.output
