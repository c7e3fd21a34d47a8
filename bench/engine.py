"""Engine benchmark (a script, not a test). Run: ``.venv/bin/python bench/engine.py``.

(a) ``Engine.process`` events/s (CPU time of this process, so that other load on the machine
    does not count; wall-clock rate printed too) on pre-parsed generated events with the sample
    rules.yaml, with a daily ``advance`` as the embedded run does,
    beside a baseline measured in the same run: a bare per-event loop (dict lookup + one Python
    call per event), i.e. the floor of any per-event Python code on this machine.
(d) State per customer for N customers (default 100k): the exported state bytes
    (``export_state``), the Python heap held by the engine's per-customer state (a deep
    ``sys.getsizeof`` walk), and the RSS growth while processing (an upper bound: it also
    holds the allocator's slack).
(b) ``backtest`` events/s from the events.jsonl.gz file end to end (read + gunzip + decode +
    parse + engine + final advance), on the same generated data as (a) written to a file.
(c) bare ``orjson.loads`` lines/s over the same file (read + gunzip + split + loads), in the
    same run, as (b)'s baseline.

Options: ``--customers``/``--days`` for (a) (default 11000 × 365 ≈ 1M events), ``--state-
customers``/``--state-days`` for (d), ``--only a,d``, ``--profile`` (cProfile of (a), top 25).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerting.engine import Engine  # noqa: E402
from alerting.errors import BadEvent  # noqa: E402
from alerting.models import parse_event  # noqa: E402
from alerting.rules.loader import load_rules  # noqa: E402
from alerting.sample import generate  # noqa: E402
from alerting.timeutil import DAY  # noqa: E402

RULES = ROOT / "rules.yaml"


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {os.uname().machine}"


def run_events(engine: Engine, events: list[Any]) -> tuple[int, int]:
    """Process events with a daily watermark (as the embedded run does); (tasks, late)."""
    tasks = late = 0
    next_tick = events[0].ts + DAY if events else 0
    process = engine.process
    for ev in events:
        if ev.ts >= next_tick:
            tasks += len(engine.advance(ev.ts))
            next_tick = ev.ts + DAY
        try:
            tasks += len(process(ev))
        except BadEvent:
            late += 1
    return tasks, late


def _baseline(events: list[Any]) -> float:
    """Seconds for a bare loop: one dict lookup and one Python call per event."""
    seen: dict[str, int] = {}

    def touch(ev: Any) -> None:
        seen[ev.customer_id] = ev.ts

    t = time.process_time()
    for ev in events:
        touch(ev)
    return time.process_time() - t


def measure_engine_throughput(customers: int, days: int, profile: bool = False) -> dict[str, Any]:
    """(a) events/s through ``Engine.process`` on pre-parsed events."""
    t = time.perf_counter()
    data = generate(customers, days, seed=7)
    events = [parse_event(d) for d in data.events()]
    prep = time.perf_counter() - t
    ruleset = load_rules(RULES)
    directory = data.directory()
    base = _baseline(events)
    engine = Engine(ruleset, directory)
    engine.seed(data.customers)
    gc.collect()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    t, c = time.perf_counter(), time.process_time()
    tasks, late = run_events(engine, events)
    wall, secs = time.perf_counter() - t, time.process_time() - c
    if profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    n = len(events)
    return {"events": n, "customers": customers, "days": days, "rules": len(ruleset.rules),
            "cpu_seconds": round(secs, 2), "wall_seconds": round(wall, 2),
            "events_per_s": round(n / secs), "wall_events_per_s": round(n / wall),
            "us_per_event": round(secs / n * 1e6, 2), "tasks": tasks, "late": late,
            "baseline_events_per_s": round(n / base), "ratio_to_baseline": round(base / secs, 3),
            "prepare_seconds": round(prep, 1)}


def _deep_size(obj: Any, seen: set[int]) -> int:
    """Bytes of ``obj`` and everything it references that was not counted yet."""
    if id(obj) in seen or obj is None or isinstance(obj, bool):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(_deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__slots__"):
        size += sum(_deep_size(getattr(obj, s, None), seen) for s in obj.__slots__)
    return size


def measure_state_size(customers: int, days: int, trace: bool = False) -> dict[str, Any]:
    """(d) state bytes per customer for ``customers`` customers. The events are parsed before
    the RSS baseline so that the RSS delta holds the engine's state (plus allocator slack)."""
    data = generate(customers, days, seed=11)
    events = [parse_event(d) for d in data.events()]
    ruleset = load_rules(RULES)
    directory = data.directory()
    gc.collect()
    rss0 = _rss_kb()
    if trace:  # every allocation made from here on and still alive at the end
        import tracemalloc

        tracemalloc.start()
    engine = Engine(ruleset, directory)
    engine.seed(data.customers)
    tasks, late = run_events(engine, events)
    gc.collect()
    rss1 = _rss_kb()
    traced = None
    if trace:
        traced = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    seen: set[int] = set()
    # small ints are shared by the interpreter: don't charge them
    for i in range(-5, 257):
        seen.add(id(i))
    # the customer id strings belong to the directory (the engine shares them)
    seen.update(id(c.customer_id) for c in data.customers)
    heap = _deep_size(engine._states, seen) + _deep_size(engine._wheel, seen)
    exported = engine.export_state()
    total = sum(len(b) for b in exported.values())
    held = len(engine)
    return {"customers": held, "events": len(events), "late": late, "tasks": tasks,
            "days": days, "export_bytes_per_customer": round(total / held, 1),
            "export_bytes_max": max(len(b) for b in exported.values()),
            "heap_bytes_per_customer": round(heap / held, 1),
            "rss_delta_bytes_per_customer": round((rss1 - rss0) * 1024 / held, 1),
            "tracemalloc_bytes_per_customer": (round(traced / held, 1) if traced is not None
                                               else None),
            "peak_rss_mb": round(rss1 / 1024, 1)}


def main() -> None:
    """Run the selected measurements and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=11000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--state-customers", type=int, default=100_000)
    ap.add_argument("--state-days", type=int, default=60)
    ap.add_argument("--only", default="a,b,c,d")
    ap.add_argument("--events-file", default=None,
                    help="(b)/(c) over this JSONL(.gz) (customers.csv/managers.csv beside it "
                         "are used if present) instead of a generated file")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="(d): also count live allocations with tracemalloc (slower)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    print(f"machine: {_machine()}, load average {os.getloadavg()[0]:.1f}")
    if "a" in only:
        r = measure_engine_throughput(args.customers, args.days, args.profile)
        print(f"(a) engine: {r['events_per_s']:,} events/s ({r['us_per_event']} µs/event, "
              f"{r['events']:,} events, {r['rules']} rules, {r['tasks']:,} task emissions); "
              f"baseline bare loop {r['baseline_events_per_s']:,}/s → ratio "
              f"{r['ratio_to_baseline']}")
        print(f"    {r}")
    if only & {"b", "c"}:
        from engine_file import run_file_benchmarks  # (b), (c): bench/engine_file.py

        run_file_benchmarks(args, only)
    if "d" in only:
        r = measure_state_size(args.state_customers, args.state_days, args.tracemalloc)
        print(f"(d) state: {r['export_bytes_per_customer']} B/customer exported, "
              f"{r['heap_bytes_per_customer']} B/customer heap, "
              f"{r['rss_delta_bytes_per_customer']} B/customer RSS delta "
              f"({r['customers']:,} customers, {r['events']:,} events over {r['days']} days)")
        print(f"    {r}")


if __name__ == "__main__":
    main()
