"""Fixtures for the task store tests: a task factory, a small hierarchy, and both stores
(memory, and the real Redis at 127.0.0.1:6379 under a unique prefix that is deleted after)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from alerting.directory import Directory, Manager
from alerting.store.memory import MemoryTaskStore
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def make_task() -> Callable[..., Task]:
    def make(task_id: str = "t-1", **kw: Any) -> Task:
        base: dict[str, Any] = dict(
            task_id=task_id, rule_id="large_withdrawal", severity="high", customer_id="C1",
            title="Large withdrawal", body="body", evidence={"amount": "250000.00"},
            event_ids=["e1"], created_at="2026-03-02T10:00:00+08:00",
            due_at="2026-03-02T12:00:00+08:00", created_ms=1_772_416_800_000,
            due_ms=1_772_424_000_000, assignee_id="m1")
        base.update(kw)
        return Task(**base)
    return make


@pytest.fixture
def directory() -> Directory:
    """president p1 > vp v1 > supervisor s1 > managers m1, m2; s2 > m3 (m3 not under s1)."""
    d = Directory()
    for m in (Manager("p1", role="branch_president"),
              Manager("v1", role="branch_vp", supervisor_id="p1"),
              Manager("s1", role="supervisor", supervisor_id="v1"),
              Manager("s2", role="supervisor", supervisor_id="v1"),
              Manager("m1", supervisor_id="s1"), Manager("m2", supervisor_id="s1"),
              Manager("m3", supervisor_id="s2")):
        d.put_manager(m)
    return d


async def _redis_store() -> AsyncIterator[RedisTaskStore]:
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.ping()  # fails loudly if the machine's Redis is not running
    store = RedisTaskStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    try:
        yield store
    finally:
        await store.delete_all()
        await client.aclose()


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisTaskStore]:
    async for s in _redis_store():
        yield s


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryTaskStore()
    else:
        async for s in _redis_store():
            yield s
