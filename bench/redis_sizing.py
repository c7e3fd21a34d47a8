"""Redis memory per customer, for sizing (docs/operator-guide.md, "Redis sizing").

Runs the real engine with ``rules.yaml`` over a generated bank, exports every customer's state,
writes it to the machine's Redis exactly as the worker checkpoints it (one hash per partition,
``alerting.state.redis_checkpoint``) together with the customer directory hash
(``alerting.streams.directory``), and reports ``MEMORY USAGE`` per customer. Baseline in the
same run: the raw bytes of the state blobs and profiles (what Redis stores before its own
per-field overhead), so the figure is given as a ratio too.

    .venv/bin/python bench/redis_sizing.py --customers 20000 --days 120 [--partitions 8]

Uses a unique key prefix (``bench:<uuid>:``) and deletes its keys at the end; never flushes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
import uuid
import zlib
from pathlib import Path

import redis.asyncio as aioredis

from alerting.directory import Directory
from alerting.engine import Engine
from alerting.errors import BadEvent
from alerting.models import parse_event
from alerting.rules.loader import load_rules
from alerting.sample import generate
from alerting.state.redis_checkpoint import CheckpointStore, PartitionCheckpoint
from alerting.store.redis import RedisTaskStore
from alerting.streams.directory import customers_key, encode_customer
from alerting.tasks import Task

ROOT = Path(__file__).resolve().parents[1]


def run_engine(customers: int, days: int, seed: int,
               ) -> tuple[dict[str, bytes], Directory, int, dict[str, Task]]:
    """Replay a generated bank through the engine; (state per customer, directory, events,
    the last revision of every task)."""
    data = generate(customers, days, seed)
    directory = data.directory()
    engine = Engine(load_rules(ROOT / "rules.yaml"), directory)
    n = last = 0
    tasks: dict[str, Task] = {}
    for raw in data.events():
        try:
            ev = parse_event(raw)
            tasks.update((t.task_id, t) for t in engine.process(ev))
            last = max(last, ev.ts)
        except BadEvent:
            pass
        n += 1
    tasks.update((t.task_id, t) for t in engine.advance(last))
    return engine.export_state(), directory, n, tasks


async def measure(states: dict[str, bytes], directory: Directory, partitions: int,
                  url: str) -> dict[str, int]:
    """Write checkpoints + directory under a fresh prefix; return Redis bytes by part."""
    r = aioredis.Redis.from_url(url)
    prefix = f"bench:{uuid.uuid4().hex}:"
    store = CheckpointStore(r, prefix, "bench")
    by_part: dict[int, dict[str, bytes]] = {p: {} for p in range(partitions)}
    for cid, blob in states.items():
        by_part[zlib.crc32(cid.encode()) % partitions][cid] = blob
    profiles = {c: encode_customer(directory.customer(c)) for c in states  # type: ignore[arg-type]
                if directory.customer(c) is not None}
    try:
        for p, part in by_part.items():
            await store.save([PartitionCheckpoint(partition=p, offsets={"transactions": 1},
                                                  states=part)])
        for i in range(0, len(profiles), 5000):
            chunk = dict(list(profiles.items())[i:i + 5000])
            await r.hset(customers_key(prefix), mapping=chunk)  # type: ignore[arg-type,misc]
        state_bytes = 0
        for p in range(partitions):
            state_bytes += int(await r.memory_usage(store.key(p), samples=0) or 0)
        dir_bytes = int(await r.memory_usage(customers_key(prefix), samples=0) or 0)
        return {"state_redis": state_bytes, "dir_redis": dir_bytes,
                "state_raw": sum(len(b) for b in states.values()),
                "dir_raw": sum(len(b) for b in profiles.values())}
    finally:
        await store.delete(range(partitions))
        await r.delete(customers_key(prefix))
        await r.aclose()


async def measure_tasks(tasks: list[Task], url: str) -> tuple[int, int]:
    """Store tasks with the real Redis task store; (Redis bytes of all its keys, JSON bytes)."""
    r = aioredis.Redis.from_url(url)
    prefix = f"bench:{uuid.uuid4().hex}:"
    store = RedisTaskStore(r, prefix)
    try:
        for t in tasks:
            await store.save(t)
        keys = [k async for k in r.scan_iter(match=prefix + "*", count=1000)]
        used = 0
        for k in keys:
            used += int(await r.memory_usage(k, samples=0) or 0)
        return used, sum(len(t.to_json()) for t in tasks)
    finally:
        keys = [k async for k in r.scan_iter(match=prefix + "*", count=1000)]
        for i in range(0, len(keys), 500):
            await r.delete(*keys[i:i + 500])
        await r.aclose()


def main() -> None:
    """Parse arguments, run, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20000)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--max-tasks", type=int, default=5000, help="tasks stored for the per-task "
                    "figure")
    ap.add_argument("--redis", default=os.environ.get("ALERTING_REDIS_URL",
                                                      "redis://127.0.0.1:6379/0"))
    a = ap.parse_args()
    t0 = time.perf_counter()
    states, directory, n_events, tasks = run_engine(a.customers, a.days, a.seed)
    t1 = time.perf_counter()
    m = asyncio.run(measure(states, directory, a.partitions, a.redis))
    sample = list(tasks.values())[:a.max_tasks]
    task_redis, task_json = asyncio.run(measure_tasks(sample, a.redis)) if sample else (0, 0)
    n = len(states)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {a.customers} customers, {a.days} days, "
          f"{n_events} events replayed in {t1 - t0:.1f}s; {n} customers with state")
    for part in ("state", "dir"):
        redis_b, raw_b = m[f"{part}_redis"] / n, m[f"{part}_raw"] / n
        name = "engine state (checkpoint hashes)" if part == "state" else "customer profile"
        print(f"{name:34} {redis_b:8.0f} B/customer in Redis; raw {raw_b:6.0f} B "
              f"(ratio {redis_b / raw_b:.2f})")
    total = (m["state_redis"] + m["dir_redis"]) / n
    print(f"{'total':34} {total:8.0f} B/customer -> {total * 1e6 / 2**30:.2f} GiB per "
          f"million customers (before tasks and the outbox)")
    if sample:
        k = len(sample)
        print(f"{'task (store + indexes)':34} {task_redis / k:8.0f} B/task in Redis; JSON "
              f"{task_json / k:6.0f} B (ratio {task_redis / task_json:.2f}); {len(tasks)} tasks "
              f"from {n} customers, {k} stored")


if __name__ == "__main__":
    main()
