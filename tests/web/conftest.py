"""Fixtures for the web tests: the demo directory, a memory or real-Redis task store seeded
with demo tasks, the real app behind aiohttp's test server, and token helpers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from web_seed import NOW_S, SECRET, demo_directory, seed

from alerting.directory import Directory
from alerting.metrics import Metrics
from alerting.store.lifecycle import TaskService
from alerting.store.memory import MemoryTaskStore
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task
from alerting.web.app import WebServices, create_app
from alerting.web.auth import issue_token

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    """A settable clock (seconds) shared by the lifecycle service and the app."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW_S)


@pytest.fixture
def directory() -> Directory:
    return demo_directory()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Both stores the app runs on: memory (embedded run) and the machine's real Redis."""
    if request.param == "memory":
        yield MemoryTaskStore()
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.ping()  # fails loudly if Redis is not running
    s = RedisTaskStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    try:
        yield s
    finally:
        await s.delete_all()
        await client.aclose()


@pytest.fixture
async def tasks(store: Any) -> list[Task]:
    return await seed(store)


@pytest.fixture
def services(store: Any, directory: Directory, clock: Clock, metrics: Metrics) -> WebServices:
    svc = TaskService(store, directory, clock, metrics, tz_minutes=480)
    return WebServices(tasks=svc, store=store, directory=directory, secret=SecretStr(SECRET),
                       clock=clock, metrics=metrics)


@pytest.fixture
async def client(services: WebServices, tasks: list[Task]) -> AsyncIterator[TestClient]:
    c = TestClient(TestServer(create_app(services)))
    await c.start_server()
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def token_for(clock: Clock) -> Callable[[str], str]:
    def make(manager_id: str, ttl_s: int = 3600) -> str:
        return issue_token(SecretStr(SECRET), manager_id, now=clock(), ttl_s=ttl_s)
    return make


@pytest.fixture
def auth(token_for: Callable[[str], str]) -> Callable[[str], dict[str, str]]:
    def headers(manager_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(manager_id)}"}
    return headers
