"""Decode+validate benchmark (a script, not a test). Run: ``.venv/bin/python bench/parse.py``.

On the events of ``alerting.sample.generate(3400, 365, seed=11)`` serialized with orjson (the
bytes ``bench/kafka.py`` sends), in one run, per record:

(1) bare ``orjson.loads`` (the baseline: what the raw Kafka consumer of bench/kafka.py does);
(2) the reference decode, ``parse_event(orjson.loads(raw))``: the dict parsers every record
    took before the msgspec fast path, and still the fallback for anything unusual;
(3) ``io.decode_line``: ``fast_event(raw)`` with its fallback to (2), the decode that
    ``io.read_events`` and ``backtest.replay`` inline;
(4) ``alerting.streams.shard.parse_item`` ((3) plus the ``Item``), with the C decoder
    (``alerting/_speedups.c``) and (4p) with the Python one;
(5) the worker's batch decode, ``shard.record_parser("c")`` over Kafka ``ConsumerRecord``s
    (one C call per batch of 2,000), and (5p) ``record_parser("python")``.

Rounds alternate the variants and the best of N rounds is kept (the machine is shared and
noisy); ratios are against (1) and (2), measured in the same run. Before timing, every record is
checked to decode to equal events on (2), (3) and (4). (The first figures, 5.8 -> 3.3 µs per
``parse_item``, were taken against a frozen copy of the code before the change, in commit
cf81ea2 of this file.)

Options: ``--customers``, ``--days``, ``--rounds``, ``--limit`` (records, default all).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka.structs import ConsumerRecord  # noqa: E402

from alerting.io import decode_line  # noqa: E402
from alerting.models import C_DECODER, _py_fast_transaction, fast_event, parse_event  # noqa: E402
from alerting.sample import generate  # noqa: E402
from alerting.streams.shard import parse_item, record_parser  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=3400)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()

    data = generate(a.customers, a.days, seed=11)
    raws = [orjson.dumps(e) for e in data.events()]
    if a.limit:
        raws = raws[:a.limit]
    n = len(raws)
    key = b"C000001"
    loads = orjson.loads
    for i, raw in enumerate(raws):  # same results first: the timing would mean nothing else
        ref = parse_event(loads(raw))
        item = parse_item(i, 0, key, raw)
        assert decode_line(raw) == ref and item.event == ref and item.error is None, raw
        assert type(item.event) is type(ref) and item.ts == ref.ts, raw
    fast_share = sum(fast_event(r) is not None for r in raws) / n

    def run_loads() -> None:
        for raw in raws:
            loads(raw)

    def run_reference() -> None:
        for raw in raws:
            parse_event(loads(raw))

    def run_fast() -> None:
        for raw in raws:
            decode_line(raw)

    def run_item() -> None:
        for i, raw in enumerate(raws):
            parse_item(i, 0, key, raw)

    def run_item_py() -> None:
        py = _py_fast_transaction
        for i, raw in enumerate(raws):
            parse_item(i, 0, key, raw, py)

    records = [ConsumerRecord("t", 0, i, 0, 0, key, raw, None, 0, len(raw), ())
               for i, raw in enumerate(raws)]
    batches = [records[i:i + 2000] for i in range(0, n, 2000)]

    def batch_run(decoder: str) -> Callable[[], None]:
        parse = record_parser(decoder)

        def run() -> None:
            for b in batches:
                parse(b)
        return run
    assert [i.event for b in batches for i in record_parser("c")(b)] == [
        i.event for b in batches for i in record_parser("python")(b)]

    variants = {"(1) orjson.loads": run_loads, "(2) reference decode": run_reference,
                "(3) io.decode_line": run_fast, "(4) parse_item": run_item,
                "(4p) parse_item, Python": run_item_py, "(5) batch, C": batch_run("c"),
                "(5p) batch, Python": batch_run("python")}
    if not C_DECODER:
        print("the C decoder is not built: the C variants run the Python one")
    best = dict.fromkeys(variants, float("inf"))
    for r in range(a.rounds):
        order = list(variants.items())
        if r % 2:
            order.reverse()  # alternate the order: drift in machine load hits all variants
        for name, f in order:
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)

    us = {k: v / n * 1e6 for k, v in best.items()}
    print(f"{n:,} records ({a.customers} customers x {a.days} days, seed 11), best of "
          f"{a.rounds} alternating rounds; {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}; fast path taken by {fast_share:.1%} of records")
    base, ref = us["(1) orjson.loads"], us["(2) reference decode"]
    for name, v in us.items():
        print(f"  {name:22s} {v:7.3f} us/record  {v / base:5.2f}x orjson.loads  "
              f"{v / ref:5.2f}x reference")


if __name__ == "__main__":
    main()
