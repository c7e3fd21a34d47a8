"""``alerting report`` against the machine's real Redis task store (unique prefix, deleted)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import orjson
import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner

from alerting.cli import app
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task, make_task_id
from alerting.timeutil import DAY, format_ts

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.integration


def task(rule: str, n: int, created_ms: int, outcome: str | None = None) -> Task:
    t = Task(task_id=make_task_id(rule, f"C{n}", str(n)), rule_id=rule, severity="high",
             customer_id=f"C{n}", title="t", body="b", evidence={}, event_ids=[],
             created_at=format_ts(created_ms, 480), due_at=format_ts(created_ms, 480),
             created_ms=created_ms, due_ms=created_ms, assignee_id="m1")
    if outcome:
        at = format_ts(created_ms + 600_000, 480)
        t = replace(t, status="resolved", outcome=outcome, acknowledged_at=at, resolved_at=at)
    return t


async def _with_store(prefix: str, tasks: list[Task] | None) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    store = RedisTaskStore(client, prefix=prefix)
    try:
        if tasks is None:
            await store.delete_all()
        else:
            for t in tasks:
                await store.upsert_emitted(t)
                await store.save(t)
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"test:{uuid.uuid4().hex}:"
    now = int(time.time() * 1000)
    tasks = [task("noisy", i, now - DAY, "false_alarm") for i in range(5)]
    tasks += [task("good", 10 + i, now - 2 * DAY, "retained") for i in range(2)]
    tasks.append(task("old", 20, now - 40 * DAY, "retained"))  # outside 30d
    asyncio.run(_with_store(p, tasks))
    try:
        yield p
    finally:
        asyncio.run(_with_store(p, None))


def test_report_prints_the_table_and_flags(prefix: str) -> None:
    r = CliRunner().invoke(app, ["report", "--since", "30d", "--redis-url", REDIS_URL,
                                 "--prefix", prefix])
    assert r.exit_code == 0, r.output
    assert "noisy" in r.output and "FLAGGED" in r.output
    assert "good" in r.output and "old" not in r.output
    assert "100.0 %" in r.output


def test_report_json_and_window(prefix: str) -> None:
    r = CliRunner().invoke(app, ["report", "--since", "90d", "--json", "--redis-url",
                                 REDIS_URL, "--prefix", prefix])
    assert r.exit_code == 0, r.output
    rows = {d["rule_id"]: d for d in map(orjson.loads, r.output.splitlines())}
    assert set(rows) == {"good", "noisy", "old"}
    assert rows["noisy"]["flagged"] and rows["noisy"]["false_alarm_share"] == 1.0
    assert rows["good"]["positive_share"] == 1.0 and not rows["good"]["flagged"]
    assert rows["good"]["ack_median_s"] == 600.0


def test_report_rejects_a_bad_window() -> None:
    r = CliRunner().invoke(app, ["report", "--since", "thirty"])
    assert r.exit_code == 2


def test_report_says_when_redis_is_unreachable() -> None:
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = CliRunner().invoke(app, ["report", "--redis-url", f"redis://127.0.0.1:{port}/0"])
    assert r.exit_code == 1
    assert "cannot read the task store" in r.output
