"""Engine benchmark (a script, not a test). Run: ``.venv/bin/python bench/engine.py``.

(a) ``Engine.process`` events/s (CPU time of this process, so that other load on the machine
    does not count; wall-clock rate printed too) on pre-parsed generated events with the sample
    rules.yaml, with a daily ``advance`` as the embedded run does,
    beside a baseline measured in the same run: a bare per-event loop (dict lookup + one Python
    call per event), i.e. the floor of any per-event Python code on this machine.
(d) State per customer for N customers (default 100k): the exported state bytes
    (``export_state``), the Python heap held by the engine's per-customer state (a deep
    ``sys.getsizeof`` walk), and the RSS growth while processing (an upper bound: it also
    holds the generator's and the allocator's slack).
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

from alerting.directory import Directory  # noqa: E402
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


def _run(engine: Engine, events: list[Any]) -> tuple[int, int]:
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
    directory = Directory({c.customer_id: c for c in data.customers},
                          {m.manager_id: m for m in data.managers})
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
    tasks, late = _run(engine, events)
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


def measure_state_size(customers: int, days: int) -> dict[str, Any]:
    """(d) state bytes per customer for ``customers`` customers."""
    data = generate(customers, days, seed=11)
    ruleset = load_rules(RULES)
    directory = Directory({c.customer_id: c for c in data.customers},
                          {m.manager_id: m for m in data.managers})
    gc.collect()
    rss0 = _rss_kb()
    engine = Engine(ruleset, directory)
    engine.seed(data.customers)
    n = 0
    next_tick = 0
    for raw in data.events():
        ev = parse_event(raw)
        if ev.ts >= next_tick:
            engine.advance(ev.ts)
            next_tick = ev.ts + DAY
        try:
            engine.process(ev)
        except BadEvent:
            pass
        n += 1
    gc.collect()
    rss1 = _rss_kb()
    seen: set[int] = set()
    # small ints and interned strings are shared by the interpreter: don't charge them
    for i in range(-5, 257):
        seen.add(id(i))
    heap = _deep_size(engine._states, seen) + _deep_size(engine._wheel, seen)
    exported = engine.export_state()
    total = sum(len(b) for b in exported.values())
    held = len(engine)
    return {"customers": held, "events": n, "days": days,
            "export_bytes_per_customer": round(total / held, 1),
            "export_bytes_max": max(len(b) for b in exported.values()),
            "heap_bytes_per_customer": round(heap / held, 1),
            "rss_delta_bytes_per_customer": round((rss1 - rss0) * 1024 / held, 1),
            "peak_rss_mb": round(rss1 / 1024, 1)}


def _write_bench_file(customers: int, days: int, out_dir: Path) -> Path:
    """The generated sample written as the user has it: events.jsonl.gz + directory CSVs."""
    generate(customers, days, seed=7).write(out_dir)
    return out_dir / "events.jsonl.gz"


def measure_orjson_lines(path: Path) -> dict[str, Any]:
    """(c) baseline: read the same file (gunzip + line split) and ``orjson.loads`` each line,
    nothing else."""
    import orjson

    from alerting.io import EventSource

    loads = orjson.loads
    n = 0
    t = time.perf_counter()
    with EventSource(path) as src:
        for _, raw in src.lines():
            loads(raw)
            n += 1
    secs = time.perf_counter() - t
    return {"lines": n, "seconds": round(secs, 2), "lines_per_s": round(n / secs)}


def measure_backtest_file(path: Path, customers_csv: Path | None = None,
                          managers_csv: Path | None = None) -> dict[str, Any]:
    """(b) ``alerting backtest`` end to end minus rendering: read + gunzip + decode + parse +
    engine (with the final advance), tasks kept as the CLI keeps them. Also the same pass
    without the engine (read + decode + parse only) to show where the time goes."""
    from alerting.backtest import TaskCollector, build_engine, replay
    from alerting.io import EventSource, load_directory, read_events

    directory = load_directory(customers_csv, managers_csv)
    bad: list[Any] = []
    n = 0
    t = time.perf_counter()
    with EventSource(path) as src:
        for _ in read_events(src.lines(), bad.append):
            n += 1
    parse_secs = time.perf_counter() - t
    engine = build_engine(RULES, directory)
    collect = TaskCollector(1)
    gc.collect()
    t = time.perf_counter()
    with EventSource(path) as src:
        r = replay(src.lines(), [engine], bad.append, collect)
    secs = time.perf_counter() - t
    return {"events": r.events_read, "seconds": round(secs, 2),
            "events_per_s": round(r.events_read / secs), "tasks": len(collect.final()),
            "emissions": collect.emissions[0], "dead_letters": sum(r.dead_letters.values()),
            "parse_only_events_per_s": round(n / parse_secs)}


def run_file_benchmarks(args: argparse.Namespace, only: set[str]) -> None:
    """(b) and (c) over the same file in the same run; (c) is measured before and after (b)
    and averaged, since the machine is shared."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        if args.events_file:
            path = Path(args.events_file)
            cust = Path(args.events_file).with_name("customers.csv")
            mgrs = Path(args.events_file).with_name("managers.csv")
        else:
            t = time.perf_counter()
            path = _write_bench_file(args.customers, args.days, Path(tmp))
            cust, mgrs = Path(tmp) / "customers.csv", Path(tmp) / "managers.csv"
            print(f"    generated {path.stat().st_size / 1e6:.1f} MB gz in "
                  f"{time.perf_counter() - t:.1f}s")
        c1 = measure_orjson_lines(path) if "c" in only else None
        b = (measure_backtest_file(path, cust if cust.exists() else None,
                                   mgrs if mgrs.exists() else None) if "b" in only else None)
        c2 = measure_orjson_lines(path) if "c" in only else None
    c_rate = (c1["lines_per_s"] + c2["lines_per_s"]) // 2 if c1 and c2 else None
    if b is not None:
        ratio = f" → ratio {b['events_per_s'] / c_rate:.3f} of bare orjson" if c_rate else ""
        print(f"(b) backtest from file: {b['events_per_s']:,} events/s ({b['events']:,} events, "
              f"{b['tasks']:,} tasks, parse-only {b['parse_only_events_per_s']:,}/s){ratio}")
        print(f"    {b}")
    if c1 and c2:
        print(f"(c) bare orjson.loads over the same file: {c_rate:,} lines/s "
              f"(before (b) {c1['lines_per_s']:,}, after {c2['lines_per_s']:,})")


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
        run_file_benchmarks(args, only)
    if "d" in only:
        r = measure_state_size(args.state_customers, args.state_days)
        print(f"(d) state: {r['export_bytes_per_customer']} B/customer exported, "
              f"{r['heap_bytes_per_customer']} B/customer heap, "
              f"{r['rss_delta_bytes_per_customer']} B/customer RSS delta "
              f"({r['customers']:,} customers, {r['events']:,} events over {r['days']} days)")
        print(f"    {r}")


if __name__ == "__main__":
    main()
