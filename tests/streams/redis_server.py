"""Real ``redis-server`` processes for the tests that need a Redis set up the way banks run it
(TLS and a password, Sentinel), and a worker run against one until it has checkpointed."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from alerting.settings import Settings
from alerting.streams.app import run_worker

from .conftest import tasks_topic, wait_for


def start_redis_server(args: list[str], port: int) -> subprocess.Popen[bytes]:
    """``redis-server ARGS``, once it accepts connections on ``port`` (fails loudly)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server not found (Debian package redis-server)")
    proc = subprocess.Popen([exe, *args], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            assert proc.poll() is None, f"redis-server {args[:2]} exited at start"
            assert time.monotonic() < deadline, "redis-server did not listen within 10 s"
            time.sleep(0.05)  # polling a condition with a deadline


async def run_until_checkpointed(s: Settings, where: aioredis.Redis, tasks: int) -> None:
    """Run the worker (asyncio runner) until the tasks topic holds ``tasks`` tasks and
    ``where`` (the Redis the worker should be using) holds a checkpoint."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(s, metrics=Metrics(CollectorRegistry()), stop=stop))
    try:
        async def checkpointed() -> bool:
            assert not task.done(), task
            keys = [k async for k in where.scan_iter(match=f"{s.redis_prefix}ckpt:*")]
            return bool(keys) and len(await tasks_topic(s)) == tasks
        await wait_for(checkpointed, 60, "the tasks, and a checkpoint in that Redis")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
