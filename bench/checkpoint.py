"""Checkpoint cost and recovery time of the Kafka worker's state store (a script, not a test).

Builds 8 partition shards (one ``Engine`` each, the packaged rules) holding N customers of the
generated bank after D days of their events, then measures against the machine's Redis:
  - a full checkpoint (every customer of every shard, one MULTI per run of 8 partitions);
  - an incremental checkpoint after a further batch of 5,000 events (dirty customers only);
  - recovery: HGETALL of the 8 partition hashes + ``import_state`` into fresh engines.
Baseline in the same run: the engine's own ``export_state`` / ``import_state`` without Redis.

Run:  .venv/bin/python bench/checkpoint.py [--customers 100000] [--days 10]
Keys under bench:<uuid>:, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerting.directory import Directory  # noqa: E402
from alerting.engine import Engine  # noqa: E402
from alerting.errors import BadEvent  # noqa: E402
from alerting.models import parse_event  # noqa: E402
from alerting.rules.loader import load_rules  # noqa: E402
from alerting.sample import generate  # noqa: E402
from alerting.state.redis_checkpoint import CheckpointStore, PartitionCheckpoint  # noqa: E402
from alerting.streams.topics import partition_of  # noqa: E402

RULES = ROOT / "alerting" / "data" / "rules.yaml"
PARTS = 8


async def main(a: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    data = generate(a.customers, a.days, seed=3)
    directory = data.directory()
    ruleset = load_rules(RULES)
    part = {c.customer_id: partition_of(c.customer_id, PARTS) for c in data.customers}

    def shard(p: int, seed: bool = True) -> Engine:
        eng = Engine(ruleset, Directory(directory.customers, directory.managers))
        if seed:  # like the worker: each shard seeds only its own customers
            eng.seed(c for c in data.customers if part[c.customer_id] == p)
        return eng

    engines = [shard(p) for p in range(PARTS)]
    events = [parse_event(e) for e in data.events()]
    tail, head = events[-5000:], events[:-5000]
    for ev in head:
        with contextlib.suppress(BadEvent):
            engines[part[ev.customer_id]].process(ev)
    print(f"{a.customers} customers, {len(events)} events, {PARTS} shards built in "
          f"{time.perf_counter() - t0:.1f}s; machine {os.cpu_count()} cores")

    t = time.perf_counter()
    states = [e.export_state() for e in engines]
    t_export = time.perf_counter() - t
    size = sum(len(b) for st in states for b in st.values())
    n = sum(len(st) for st in states)
    print(f"baseline export_state (no Redis): {t_export * 1000:.0f} ms for {n} customers, "
          f"{size / 1e6:.1f} MB ({size / max(n, 1):.0f} B/customer)")

    r = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    store = CheckpointStore(r, prefix, "bench")
    try:
        t = time.perf_counter()
        await store.save([PartitionCheckpoint(p, {"tx": 1}, engines[p].export_meta(), {0: 0},
                                              states[p]) for p in range(PARTS)])
        t_full = time.perf_counter() - t
        print(f"full checkpoint, Redis MULTI write of all states: {t_full * 1000:.0f} ms "
              f"(+ export {t_export * 1000:.0f} ms = {(t_full + t_export) * 1000:.0f} ms)")

        for e in engines:
            e.clear_dirty()
        for ev in tail:
            with contextlib.suppress(BadEvent):
                engines[part[ev.customer_id]].process(ev)
        t = time.perf_counter()
        cps = [PartitionCheckpoint(p, {"tx": 2}, engines[p].export_meta(), {0: 1},
                                   engines[p].export_state(engines[p].dirty_customers()))
               for p in range(PARTS)]
        dirty = sum(len(c.states) for c in cps)
        await store.save(cps)
        t_inc = time.perf_counter() - t
        print(f"incremental checkpoint after 5,000 events: {dirty} dirty customers, "
              f"{t_inc * 1000:.1f} ms")

        t = time.perf_counter()
        fresh = [shard(p, seed=False) for p in range(PARTS)]
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        for p in range(PARTS):
            cp = await store.load(p)
            assert cp is not None
            fresh[p].import_state(cp.states)
            fresh[p].import_meta(cp.meta)
        t_rec = time.perf_counter() - t
        t = time.perf_counter()
        for p in range(PARTS):
            shard(p, seed=False).import_state(states[p])
        t_imp = time.perf_counter() - t
        print(f"recovery (HGETALL + import_state, 8 shards): {t_rec * 1000:.0f} ms; baseline "
              f"import_state alone {t_imp * 1000:.0f} ms; engine construction "
              f"{t_build * 1000:.0f} ms")
    finally:
        keys = [k async for k in r.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await r.delete(*keys)
        await r.aclose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=10)
    asyncio.run(main(ap.parse_args()))
