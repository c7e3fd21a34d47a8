"""Benchmark: the task API and the effectiveness computation.

Run: .venv/bin/python bench/web_api.py [--tasks 2000] [--requests 2000]

1. HTTP: requests per second of ``GET /api/tasks`` (a manager's 100 tasks from the real Redis
   store at 127.0.0.1:6379, unique prefix, deleted afterwards) and ``GET /api/tasks/{id}``,
   against the baseline ``GET /healthz`` (the same server and client doing no work), 8
   concurrent clients.
2. Effectiveness over 100,000 tasks against the baseline of decoding those tasks from JSON
   (what reading them from the store costs anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
import uuid
from dataclasses import replace

import aiohttp
import redis.asyncio as aioredis
from pydantic import SecretStr

from alerting.directory import Directory, Manager
from alerting.store.effectiveness import compute_effectiveness
from alerting.store.lifecycle import TaskService
from alerting.store.redis import RedisTaskStore
from alerting.tasks import OUTCOMES, Task, make_task_id
from alerting.timeutil import format_ts
from alerting.web.app import WebServices, bound_port, serve
from alerting.web.auth import issue_token

SECRET = SecretStr("bench-secret-0123456789")
NOW_MS = 1_772_416_800_000
CONCURRENCY = 8


def make_tasks(n: int, managers: int) -> list[Task]:
    """``n`` tasks over ``managers`` managers and 8 rules; a third of them resolved."""
    out = []
    for i in range(n):
        created = NOW_MS - (i % 1000) * 60_000
        t = Task(task_id=make_task_id(f"rule{i % 8}", f"C{i}", "s"), rule_id=f"rule{i % 8}",
                 severity="high", customer_id=f"C{i}", title="Large withdrawal", body="b" * 120,
                 evidence={"amount": "250000.00", "threshold": "200000.00", "tier": "key"},
                 event_ids=[f"ev-{i}"], created_at=format_ts(created, 480),
                 due_at=format_ts(created + 7_200_000, 480), created_ms=created,
                 due_ms=created + 7_200_000, assignee_id=f"m{i % managers}")
        if i % 3 == 0:
            at = format_ts(created + (i % 97) * 60_000, 480)
            t = replace(t, status="resolved", outcome=OUTCOMES[i % 5], acknowledged_at=at,
                        resolved_at=at)
        out.append(t)
    return out


async def rate(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
               total: int) -> float:
    """Requests per second for ``total`` GETs over CONCURRENCY workers."""
    per = total // CONCURRENCY

    async def worker() -> None:
        for _ in range(per):
            async with session.get(url, headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return per * CONCURRENCY / (time.perf_counter() - t0)


async def http_bench(n_tasks: int, n_requests: int) -> None:
    managers = max(1, n_tasks // 100)
    directory = Directory(managers={f"m{i}": Manager(f"m{i}") for i in range(managers)})
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    store = RedisTaskStore(client, prefix=f"bench:{uuid.uuid4().hex}:")
    try:
        tasks = make_tasks(n_tasks, managers)
        for t in tasks:
            await store.upsert_emitted(t)
        clock = time.time
        svc = WebServices(tasks=TaskService(store, directory, clock), store=store,
                          directory=directory, secret=SECRET, clock=clock)
        runner = await serve(svc, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{bound_port(runner)}"
        hdr = {"Authorization": "Bearer " + issue_token(SECRET, "m1", now=clock())}
        one = next(t for t in tasks if t.assignee_id == "m1")
        async with aiohttp.ClientSession() as s:
            await rate(s, f"{base}/healthz", {}, 200)  # warm-up
            base_rate = await rate(s, f"{base}/healthz", {}, n_requests)
            list_rate = await rate(s, f"{base}/api/tasks", hdr, n_requests)
            get_rate = await rate(s, f"{base}/api/tasks/{one.task_id}", hdr, n_requests)
        await runner.cleanup()
    finally:
        await store.delete_all()
        await client.aclose()
    print(f"baseline GET /healthz          {base_rate:8.0f} req/s  1.00")
    print(f"GET /api/tasks (100 tasks)     {list_rate:8.0f} req/s  {list_rate / base_rate:.2f}")
    print(f"GET /api/tasks/{{id}}            {get_rate:8.0f} req/s  {get_rate / base_rate:.2f}")


def effectiveness_bench(n: int = 100_000) -> None:
    raw = [t.to_json() for t in make_tasks(n, 50)]
    t0 = time.perf_counter()
    tasks = [Task.from_json(b) for b in raw]
    decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = compute_effectiveness(tasks)
    compute = time.perf_counter() - t0
    assert len(rows) == 8
    print(f"baseline decode {n} tasks     {decode * 1000:8.1f} ms      1.00")
    print(f"compute_effectiveness          {compute * 1000:8.1f} ms      {compute / decode:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    asyncio.run(http_bench(args.tasks, args.requests))
    effectiveness_bench()


if __name__ == "__main__":
    main()
