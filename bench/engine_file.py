"""Parts (b) and (c) of ``bench/engine.py`` (run that script; this module holds the file-based
measurements so the two halves can be edited independently).

(b) ``backtest`` events/s from the events.jsonl.gz file end to end (read + gunzip + decode +
    parse + engine + timers), as ``alerting backtest`` does minus the rendering; also the same
    pass without the engine (read + decode + parse only) to show where the time goes.
(c) bare ``orjson.loads`` lines/s over the same file (read + gunzip + split + loads) in the same
    run, as (b)'s baseline; measured before and after (b) and averaged (the machine is shared).
Both are printed as wall-clock and as CPU-time rates (the latter ignores other jobs' load).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from alerting.backtest import TaskCollector, build_engine, replay
from alerting.io import DeadLetter, EventSource, load_directory, read_events
from alerting.sample import generate

RULES = Path(__file__).resolve().parents[1] / "rules.yaml"


def write_bench_file(customers: int, days: int, out_dir: Path) -> Path:
    """The generated sample written as a user has it: events.jsonl.gz + directory CSVs."""
    generate(customers, days, seed=7).write(out_dir)
    return out_dir / "events.jsonl.gz"


def measure_orjson_lines(path: Path) -> dict[str, Any]:
    """(c) read the file (gunzip + line split) and ``orjson.loads`` each line, nothing else."""
    loads = orjson.loads
    n = 0
    t, c = time.perf_counter(), time.process_time()
    with EventSource(path) as src:
        for _, raw in src.lines():
            loads(raw)
            n += 1
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    return {"lines": n, "seconds": round(secs, 2), "lines_per_s": round(n / secs),
            "cpu_lines_per_s": round(n / cpu)}


def measure_backtest_file(path: Path, customers_csv: Path | None = None,
                          managers_csv: Path | None = None) -> dict[str, Any]:
    """(b) the backtest pass over the file with the sample rules.yaml."""
    directory = load_directory(customers_csv, managers_csv)
    bad: list[DeadLetter] = []
    n = 0
    t = time.perf_counter()
    with EventSource(path) as src:
        for _ in read_events(src.lines(), bad.append):
            n += 1
    parse_secs = time.perf_counter() - t
    engine = build_engine(RULES, directory)
    collect = TaskCollector(1)
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    with EventSource(path) as src:
        r = replay(src.lines(), [engine], bad.append, collect)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    return {"events": r.events_read, "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
            "events_per_s": round(r.events_read / secs),
            "cpu_events_per_s": round(r.events_read / cpu), "tasks": len(collect.final()),
            "emissions": collect.emissions[0], "dead_letters": sum(r.dead_letters.values()),
            "parse_only_events_per_s": round(n / parse_secs)}


def _inputs(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path | None, Path | None]:
    if args.events_file:
        path = Path(args.events_file)
    else:
        t = time.perf_counter()
        path = write_bench_file(args.customers, args.days, tmp)
        print(f"    generated {path.stat().st_size / 1e6:.1f} MB gz in "
              f"{time.perf_counter() - t:.1f}s")
    cust, mgrs = path.with_name("customers.csv"), path.with_name("managers.csv")
    return path, cust if cust.exists() else None, mgrs if mgrs.exists() else None


def run_file_benchmarks(args: argparse.Namespace, only: set[str]) -> None:
    """Print (b) and (c) over the same file (``--events-file`` or a generated one of
    ``--customers`` × ``--days``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path, cust, mgrs = _inputs(args, Path(tmp))
        c1 = measure_orjson_lines(path) if "c" in only else None
        b = measure_backtest_file(path, cust, mgrs) if "b" in only else None
        c2 = measure_orjson_lines(path) if "c" in only else None
    c_rate = (c1["lines_per_s"] + c2["lines_per_s"]) // 2 if c1 and c2 else None
    c_cpu = (c1["cpu_lines_per_s"] + c2["cpu_lines_per_s"]) // 2 if c1 and c2 else None
    if b is not None:
        ratio = f" → ratio {b['events_per_s'] / c_rate:.3f} of bare orjson" if c_rate else ""
        print(f"(b) backtest from file: {b['events_per_s']:,} events/s ({b['events']:,} events, "
              f"{b['tasks']:,} tasks; read+parse only {b['parse_only_events_per_s']:,}/s)"
              f"{ratio}")
        # CPU time as well: on a shared machine the wall-clock rate moves with others' load
        cpu_ratio = f" → ratio {b['cpu_events_per_s'] / c_cpu:.3f}" if c_cpu else ""
        print(f"    CPU time: {b['cpu_events_per_s']:,} events/s{cpu_ratio}")
        print(f"    {b}")
    if c1 and c2:
        print(f"(c) bare orjson.loads over the same file: {c_rate:,} lines/s "
              f"(before (b) {c1['lines_per_s']:,}, after {c2['lines_per_s']:,}); CPU time "
              f"{c_cpu:,} lines/s")
