"""Dirty tracking (a flag on each customer's state plus a list): the set the Kafka worker
checkpoints must be exactly the customers changed since ``clear_dirty``, across seed, timers,
drop and import of state."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factories import build_rules, make_directory, make_txn  # noqa: E402

from alerting.engine import Engine  # noqa: E402
from alerting.timeutil import parse_ts  # noqa: E402

BIG = {"id": "big", "kind": "threshold", "where": "event.amount >= 1000", "cooldown": "1d"}
IDLE = {"id": "idle", "kind": "inactivity", "after": "30d"}


def _eng() -> Engine:
    return Engine(build_rules(BIG, IDLE), make_directory(
        {"customer_id": "a", "last_activity_at": "2024-01-01T00:00:00+08:00"},
        {"customer_id": "b"}))


def test_each_customer_listed_once_and_cleared():
    eng = _eng()
    for day in (1, 2, 3):
        eng.process(make_txn(customer="a", ts=f"2024-03-0{day}T10:00:00+08:00"))
    assert eng.dirty_customers() == {"a"}
    eng.clear_dirty()
    assert eng.dirty_customers() == set()
    eng.process(make_txn(customer="a", ts="2024-03-04T10:00:00+08:00"))
    assert eng.dirty_customers() == {"a"}


def test_seed_and_timers_mark_dirty():
    eng = _eng()
    eng.seed(eng.directory.customers.values())
    assert eng.dirty_customers() == {"a", "b"}
    eng.clear_dirty()
    eng.seed(eng.directory.customers.values())  # already held: not changed
    assert eng.dirty_customers() == set()
    fired = eng.advance(parse_ts("2024-02-15T00:00:00+08:00")[0])
    assert [t.customer_id for t in fired] == ["a"]
    assert eng.dirty_customers() == {"a"}


def test_drop_unmarks_and_import_keeps_the_mark():
    eng = _eng()
    eng.process(make_txn(customer="a", ts="2024-03-01T10:00:00+08:00"))
    eng.process(make_txn(customer="b", ts="2024-03-01T10:00:00+08:00"))
    saved = eng.export_state(["a"])
    eng.drop_customers(["b"])
    assert eng.dirty_customers() == {"a"}
    eng.import_state(saved)  # replacing a dirty customer's state: still dirty
    assert eng.dirty_customers() == {"a"}
    eng.clear_dirty()
    eng.import_state(saved)  # a restore is not a change
    assert eng.dirty_customers() == set()
    eng.process(make_txn(customer="b", ts="2024-03-02T10:00:00+08:00"))  # b held again
    assert eng.dirty_customers() == {"b"}
