"""How much of one worker's time is the rules engine (a script, not a test).

Pre-produces generated events to a fresh local Tansu broker (as ``bench/kafka.py``), measures
the raw aiokafka consume rate (a), then runs the worker in this process over the same input,
alternating ``--rounds`` times: as shipped, with an engine that keeps no state and emits nothing
(the same consume, decode, merge, produce and checkpoint path around a free engine), and as
shipped but decoding with the Python decoder instead of the C one (``alerting/_speedups.c``).
The free engine is the most any faster engine could give the worker; the gap between it and
the shipped one is the engine's share. CPU time per event is the worker's own (this process),
so the broker's load does not count.

Run:  .venv/bin/python bench/worker_engine_share.py [--events 300000]
Needs the machine's Redis at 127.0.0.1:6379 (keys under bench:<uuid>:, deleted at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerting import models  # noqa: E402
from alerting.directory import Directory  # noqa: E402
from alerting.metrics import Metrics  # noqa: E402
from alerting.settings import Settings  # noqa: E402
from alerting.streams.app import rules_engine_factory, tune_gc  # noqa: E402
from alerting.streams.directory import load_directory  # noqa: E402
from alerting.streams.topics import ensure_topics  # noqa: E402
from alerting.streams.worker import EngineFactory, Worker  # noqa: E402
from bench.kafka import bench_env, pre_produce, raw_consume  # noqa: E402


class FreeEngine:
    """The shipped engine's interface with nothing behind ``process`` / ``advance``."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def __len__(self) -> int:
        return 0

    def process(self, ev: Any) -> list[Any]:
        return []

    def advance(self, watermark_ms: int) -> list[Any]:
        return []


async def worker_rate(s: Settings, r: aioredis.Redis, total: int,
                      factory: EngineFactory) -> tuple[float, float]:
    """(events/s while processing, µs of this process's CPU per event)."""
    w = Worker(s, factory, r, await load_directory(r, s.redis_prefix),
               Metrics(CollectorRegistry()))
    await w.start()
    tune_gc()
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    marks: list[tuple[float, int, float]] = []
    try:
        while (n := w.stats["events"]) < total:
            if n:
                marks.append((time.perf_counter(), n, time.process_time()))
            if task.done():
                await task  # raises what stopped it
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
        await w.stop()
    if len(marks) < 2:
        raise SystemExit("the worker went through the input between two readings: use more "
                         "--events")
    (t0, n0, c0), (t1, n1, c1) = marks[0], marks[-1]
    return (n1 - n0) / (t1 - t0), (c1 - c0) / (n1 - n0) * 1e6


async def main(a: argparse.Namespace) -> None:
    async with bench_env() as env:
        s1, total, _ = await pre_produce(env, "share", a.customers, a.events)
        ceiling = await raw_consume(env.broker.bootstrap, [s1.topic_transactions,
                                                           s1.topic_complaints], total)
        print(f"(a) raw aiokafka getmany + orjson: {ceiling:,.0f} events/s")
        shipped = rules_engine_factory(s1)

        def free(d: Directory) -> Any:
            return FreeEngine(shipped(d))
        variants = [("shipped engine", shipped, True), ("free engine", free, True),
                    ("shipped engine, Python decoder", shipped, False)] * a.rounds
        if not models.C_DECODER:
            print("(the C decoder is not built: every run uses the Python one)")
        for k, (label, factory, c_decoder) in enumerate(variants):
            sx = s1.model_copy(update={"decoder": "c" if c_decoder else "python",
                                       "group_id": f"share-{k}", "topic_tasks": f"share-{k}-t",
                                       "topic_dead_letter": f"share-{k}-d"})
            await ensure_topics(sx)
            rate, us = await worker_rate(sx, env.r, total, factory)  # type: ignore[arg-type]
            print(f"worker, {label}: {rate:,.0f} events/s = {rate / ceiling:.0%} of (a); "
                  f"{us:.1f} µs CPU per event")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--customers", type=int, default=3400)
    ap.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(ap.parse_args()))
