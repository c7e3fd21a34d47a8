"""Benchmark: evaluation speed of compiled conditions against hand-written Python.

Run: .venv/bin/python bench/expr.py   (prints ns per call and the ratio to the baseline,
the same condition written by hand as a Python lambda, measured in the same run)."""

from __future__ import annotations

import os
import platform
import timeit
from types import SimpleNamespace
from typing import Any

from alerting.models import Transaction
from alerting.rules.expr import Function, Schema, T, compile_expr

SCHEMA = Schema({
    "event": {"kind": T.STR, "amount": T.MONEY, "ts": T.TIME, "counterparty_bank": T.STR,
              "channel": T.STR},
    "customer": {"assets": T.MONEY, "tier": T.STR, "last_activity_at": T.TIME},
    "agg": {"sum": T.MONEY, "count": T.NUMBER},
})
FUNCTIONS = {"tier_limit": Function("tier_limit", (T.ANY,), T.MONEY, lambda c: 20_000_000)}

CASES: list[tuple[str, Any]] = [
    ('event.kind == "withdrawal" and event.amount >= 200000',
     lambda e, c, a: e.kind == "withdrawal" and e.amount >= 20_000_000),
    ('event.kind in ["withdrawal", "transfer_out"] and event.counterparty_bank != null',
     lambda e, c, a: e.kind in ("withdrawal", "transfer_out") and e.counterparty_bank is not None),
    ("event.amount >= 0.5 * customer.assets",
     lambda e, c, a: e.amount * 2 >= c.assets),
    ("event.amount >= customer.assets / 3",
     lambda e, c, a: e.amount * 3 >= c.assets),
    ("agg.sum >= 500000 and agg.count >= 3",
     lambda e, c, a: a.sum >= 50_000_000 and a.count >= 3),
    ('event.kind == "withdrawal" and event.amount >= tier_limit(customer)',
     lambda e, c, a: e.kind == "withdrawal" and e.amount >= FUNCTIONS["tier_limit"].impl(c)),
    ("event.ts - customer.last_activity_at >= days(90)",
     lambda e, c, a: e.ts - c.last_activity_at >= 90 * 86_400_000),
]


def per_call_ns(*fns: Any, args: tuple[Any, ...], number: int = 200_000,
                repeat: int = 15) -> list[float]:
    """Nanoseconds per call of each function: the best of ``repeat`` runs, the functions
    measured alternately so that both see the same machine load (the loop runs in timeit's
    compiled template, so the figures include one call of overhead)."""
    timers = [timeit.Timer("f(e, c, a)", globals={"f": f, "e": args[0], "c": args[1],
                                                   "a": args[2]}) for f in fns]
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, t in enumerate(timers):
            best[i] = min(best[i], t.timeit(number))
    return [b / number * 1e9 for b in best]


def main() -> None:
    event = Transaction(event_id="e", customer_id="c", account_id="a", ts=1_700_000_000_000,
                        tz=480, kind="withdrawal", amount=25_000_000, channel="atm",
                        counterparty_bank="ICBC")
    customer = SimpleNamespace(assets=40_000_000, tier="vip",
                               last_activity_at=1_700_000_000_000 - 100 * 86_400_000)
    agg = SimpleNamespace(sum=60_000_000, count=3)
    args = (event, customer, agg)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    (empty,) = per_call_ns(lambda e, c, a: None, args=args)
    print(f"call of an empty 3-argument function: {empty:.0f} ns (included in all figures)")
    print(f"{'condition':78} {'compiled':>9} {'by hand':>8} {'ratio':>6}")
    for source, by_hand in CASES:
        compiled = compile_expr(source, SCHEMA, FUNCTIONS)
        assert compiled.fn(*args) == by_hand(*args), source
        ns, base = per_call_ns(compiled.fn, by_hand, args=args)
        print(f"{source[:78]:78} {ns:7.0f}ns {base:6.0f}ns {ns / base:6.2f}")
    t = timeit.timeit(lambda: compile_expr(CASES[0][0], SCHEMA, FUNCTIONS), number=2000)
    print(f"compile time: {t / 2000 * 1e6:.0f} us per condition")


if __name__ == "__main__":
    main()
