"""Benchmark: the dispatcher's intake (store + assign + workload + route + group) per task,
against a baseline of the bare task-store upsert of the same tasks, measured in the same run,
for the memory store and the machine's real Redis; plus business-time deadline arithmetic
against plain addition.

    .venv/bin/python bench/routing.py [--tasks 5000]

Redis keys use a unique prefix (``bench:<uuid>:``) and are deleted at the end; never flushes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
import timeit
import uuid
from typing import Any

import redis.asyncio as aioredis

from alerting.directory import Customer, Directory, Manager
from alerting.routing.calendar import BusinessCalendar
from alerting.routing.dispatch import Dispatcher
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.store.memory import MemoryTaskStore
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task
from alerting.timeutil import HOUR

T0 = 1_790_560_800_000
ROUTING = RoutingSpec.model_validate({
    "route": {"receiver": "inbox", "group_wait": "30s",
              "routes": [{"match": {"severity": "critical"}, "receiver": "desk",
                          "continue": True}]},
    "receivers": [{"name": "inbox"}, {"name": "desk"}],
    "escalation": {"business_time": True}, "workload": {"max_per_day": 20}})


class NullOutbox:
    """Counts enqueued notifications (delivery is benchmarked by the notifiers' scripts)."""

    def __init__(self) -> None:
        self.n = 0

    async def enqueue(self, n: Any) -> bool:
        self.n += 1
        return True


def directory(managers: int) -> Directory:
    d = Directory()
    d.put_manager(Manager("p", role="branch_president"))
    d.put_manager(Manager("v", role="branch_vp", supervisor_id="p"))
    for s in range(managers // 10 + 1):
        d.put_manager(Manager(f"s{s}", role="supervisor", supervisor_id="v"))
    for m in range(managers):
        d.put_manager(Manager(f"m{m}", supervisor_id=f"s{m // 10}"))
        d.put_customer(Customer(f"C{m}", manager_id=f"m{m}"))
    return d


def tasks(n: int, managers: int, tag: str) -> list[Task]:
    sev = ("low", "medium", "high", "critical")
    return [Task(task_id=f"t-{tag}-{i}", rule_id=f"r{i % 7}", severity=sev[i % 4],
                 customer_id=f"C{i % managers}", title="Large withdrawal", body="body",
                 evidence={"amount": "250000.00"}, event_ids=[f"e{i}"],
                 created_at="2026-09-28T10:00:00+08:00", due_at="2026-09-28T18:00:00+08:00",
                 created_ms=T0, due_ms=T0 + 8 * HOUR, assignee_id=f"m{i % managers}")
            for i in range(n)]


async def timed(coro: Any) -> float:
    t = time.perf_counter()
    await coro
    return time.perf_counter() - t


async def bench_store(name: str, make_store: Any, n: int) -> None:
    d = directory(200)
    base_store = await make_store()
    baseline = await timed(_upsert_all(base_store, tasks(n, 200, "b")))
    disp = Dispatcher(ROUTING, CalendarSpec(), d, await make_store(), NullOutbox(),
                      lambda: T0 / 1000)
    full = await timed(disp.handle(tasks(n, 200, "d")))
    print(f"{name:<7} baseline upsert: {n / baseline:9.0f} tasks/s | dispatcher.handle: "
          f"{n / full:9.0f} tasks/s | ratio {full / baseline:.2f}x the baseline time")


async def _upsert_all(store: Any, ts: list[Task]) -> None:
    for t in ts:
        await store.upsert_emitted(t)


def bench_calendar() -> None:
    cal = BusinessCalendar(CalendarSpec(working_hours=["09:00-12:00", "13:30-17:30"]))
    n = 100_000
    plain = timeit.timeit(lambda: T0 + 2 * HOUR, number=n) / n
    biz = timeit.timeit(lambda: cal.add_business_time(T0 + 7 * HOUR, 26 * HOUR), number=n) / n
    print(f"calendar: add_business_time(26h over nights/weekend) {biz * 1e9:.0f} ns vs plain "
          f"addition {plain * 1e9:.0f} ns (ratio {biz / plain:.0f}x)")


async def main(n: int) -> None:
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {n} tasks, 200 managers")
    await bench_store("memory", _memory, n)
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefixes: list[str] = []

    async def redis_store() -> RedisTaskStore:
        prefixes.append(f"bench:{uuid.uuid4().hex}:")
        return RedisTaskStore(client, prefixes[-1])

    try:
        await bench_store("redis", redis_store, n)
    finally:
        for p in prefixes:
            await RedisTaskStore(client, p).delete_all()
        await client.aclose()
    bench_calendar()


async def _memory() -> MemoryTaskStore:
    return MemoryTaskStore()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=5000)
    asyncio.run(main(ap.parse_args().tasks))
