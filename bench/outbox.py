"""Benchmark: outbox throughput (enqueue, then deliver) with a notifier that does no work.

Run: .venv/bin/python bench/outbox.py [--n 5000]

Measures notifications per second through ``Outbox.enqueue`` + ``Outbox.run_once`` on
1. the in-memory store, and 2. the Redis store (real Redis at 127.0.0.1:6379, unique prefix,
deleted afterwards), against the baseline of the same number of plain Redis round trips
(``LPUSH`` one at a time, what any per-notification Redis write costs) measured in the same run.
Also: a real local webhook receiver (aiohttp) behind the memory outbox, against the baseline of
POSTing the same bodies with the same httpx client without the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import time
import uuid

import httpx
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import TypeAdapter

from alerting.metrics import Metrics
from alerting.notifiers.base import Notification
from alerting.notifiers.config import NotifierConfig
from alerting.notifiers.outbox import Outbox
from alerting.notifiers.outbox_store import MemoryOutboxStore, OutboxStore, RedisOutboxStore
from alerting.notifiers.registry import NotifierDeps, build_notifier


class Noop:
    name = "noop"
    concurrency = 64

    async def send(self, n: Notification) -> None:
        return None

    async def aclose(self) -> None:
        return None


def notifications(n: int, tag: str) -> list[Notification]:
    return [Notification(f"{tag}-{i}", "r", "task", f"m-{i % 50}", "Manager", None, "en",
                         f"Large withdrawal #{i}", "Customer C-1 withdrew 200000.00",
                         ({"task_id": f"t-{i}", "revision": 0},), "2026-01-01T09:00:00+08:00")
            for i in range(n)]


async def through(store: OutboxStore, notifier, ns: list[Notification]) -> float:
    outbox = Outbox({"r": [notifier]}, store, metrics=Metrics(CollectorRegistry()),
                    rng=random.Random(1), batch=500)
    t = time.perf_counter()
    for n in ns:
        await outbox.enqueue(n)
    sent = await outbox.run_once(time.time())
    elapsed = time.perf_counter() - t
    assert sent == len(ns), (sent, len(ns))
    return len(ns) / elapsed


async def receiver() -> tuple[web.AppRunner, str]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/"


async def main(n: int) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; n={n}")
    client = aioredis.Redis(host="127.0.0.1", port=6379)
    prefix = f"bench:{uuid.uuid4().hex}:"
    try:
        t = time.perf_counter()
        for i in range(n):
            await client.lpush(prefix + "baseline", i)
        base = n / (time.perf_counter() - t)
        mem = await through(MemoryOutboxStore(), Noop(), notifications(n, "m"))
        red = await through(RedisOutboxStore(client, prefix), Noop(), notifications(n, "r"))
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    print(f"baseline plain Redis LPUSH round trips: {base:,.0f}/s")
    print(f"outbox memory store, noop notifier:     {mem:,.0f}/s  ({mem / base:.2f}x baseline)")
    print(f"outbox Redis store, noop notifier:      {red:,.0f}/s  ({red / base:.2f}x baseline)")

    runner, url = await receiver()
    m = min(n, 2000)
    try:
        async with httpx.AsyncClient() as http:
            body = notifications(1, "x")[0].to_json().encode()
            t = time.perf_counter()
            sem = asyncio.Semaphore(4)

            async def one() -> None:
                async with sem:
                    (await http.post(url, content=body)).raise_for_status()

            await asyncio.gather(*(one() for _ in range(m)))
            raw = m / (time.perf_counter() - t)
            cfg = TypeAdapter(NotifierConfig).validate_python(
                {"type": "webhook", "url": url, "secret": "s", "concurrency": 4})
            hook = build_notifier("hook", cfg, NotifierDeps(http=http))
            via = await through(MemoryOutboxStore(), hook, notifications(m, "w"))
    finally:
        await runner.cleanup()
    print(f"baseline httpx POST to local receiver:  {raw:,.0f}/s (4 in flight)")
    print(f"signed webhook through memory outbox:   {via:,.0f}/s  ({via / raw:.2f}x baseline)")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=5000)
    asyncio.run(main(p.parse_args().n))
