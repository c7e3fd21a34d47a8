"""The real web app served on a free localhost port from a background thread with its own event
loop, for the browser tests and the screenshot script (Playwright's sync API drives Chromium
from the test thread; store checks run in the server's loop through ``call``)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from web_seed import NOW_S, SECRET, demo_directory, seed

from alerting.directory import Directory
from alerting.metrics import Metrics
from alerting.store.lifecycle import TaskService
from alerting.store.memory import MemoryTaskStore
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task
from alerting.web.app import WebServices, bound_port, serve
from alerting.web.auth import issue_token

T = TypeVar("T")
REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class ServedApp:
    """Start with ``start()``, stop with ``stop()``; ``url`` is the base URL."""

    def __init__(self, *, use_redis: bool, tasks: list[Task] | None = None,
                 directory: Directory | None = None, now_s: float = NOW_S) -> None:
        self.use_redis = use_redis
        self.seed_tasks = tasks
        self.directory = directory or demo_directory()
        self.now_s = now_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self.registry = CollectorRegistry()
        self.url = ""
        self.store: Any = None
        self._client: aioredis.Redis | None = None
        self._runner: web.AppRunner | None = None

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
        """Run a coroutine in the server's loop and wait for its result."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(_wrap(fn), self.loop)
        return fut.result(timeout)

    def start(self) -> ServedApp:
        self.thread.start()
        self.call(self._start)
        return self

    async def _start(self) -> None:
        if self.use_redis:
            self._client = aioredis.Redis.from_url(REDIS_URL)
            await self._client.ping()  # fails loudly without the machine's Redis
            self.store = RedisTaskStore(self._client, prefix=self.prefix)
        else:
            self.store = MemoryTaskStore()
        await seed(self.store, self.seed_tasks)
        metrics = Metrics(self.registry)
        clock = self.clock
        svc = TaskService(self.store, self.directory, clock, metrics, tz_minutes=480)
        services = WebServices(tasks=svc, store=self.store, directory=self.directory,
                               secret=SecretStr(SECRET), clock=clock, metrics=metrics)
        self._runner = await serve(services, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{bound_port(self._runner)}"

    def clock(self) -> float:
        return self.now_s

    def token(self, manager_id: str) -> str:
        return issue_token(SecretStr(SECRET), manager_id, now=self.now_s, ttl_s=3600)

    def stop(self) -> None:
        try:
            self.call(self._stop)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self.store.delete_all()
            await self._client.aclose()


async def _wrap(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
