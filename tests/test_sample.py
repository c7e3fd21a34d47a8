"""The sample generator: deterministic, in time order, valid wire format, and realistic enough
to exercise every rule kind."""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import orjson
import pytest

from alerting.io import load_directory
from alerting.models import Transaction, parse_event
from alerting.sample import SampleData, generate


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return generate(customers=600, days=150, seed=7, start=date(2025, 1, 1))


@pytest.fixture(scope="module")
def events(sample: SampleData) -> list[dict]:
    return list(sample.events())


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate(150, 60, seed=3).write(tmp_path / "a")
    b = generate(150, 60, seed=3).write(tmp_path / "b")
    assert a == b and a["events"] > 1000
    for name in ("events.jsonl.gz", "customers.csv", "managers.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    generate(150, 60, seed=4).write(tmp_path / "c")
    assert (tmp_path / "c/events.jsonl.gz").read_bytes() != (
        tmp_path / "a/events.jsonl.gz").read_bytes()


def test_events_regenerate_identically(sample: SampleData, events: list[dict]) -> None:
    assert list(sample.events()) == events


def test_events_are_valid_and_time_ordered(events: list[dict]) -> None:
    parsed = [parse_event(e) for e in events]
    ts = [p.ts for p in parsed]
    assert ts == sorted(ts)
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["ts"].endswith("+08:00") for e in events)
    assert {p.tz for p in parsed} == {480}


def test_written_files_load(tmp_path: Path) -> None:
    s = generate(200, 40, seed=1)
    counts = s.write(tmp_path)
    with gzip.open(tmp_path / "events.jsonl.gz") as fh:
        assert sum(1 for _ in fh) == counts["events"]
    d = load_directory(tmp_path / "customers.csv", tmp_path / "managers.csv")
    assert len(d.customers) == 200 and len(d.managers) == counts["managers"]
    assert d.customers["C000001"] == s.customers[0]


def test_assets_span_the_tiers() -> None:
    s = generate(3000, 1, seed=11)
    assets = sorted(c.assets for c in s.customers)
    median = assets[len(assets) // 2]
    assert 1_000_000 <= median <= 10_000_000  # most customers are small (10k..100k CNY)
    assert sum(a >= 100_000_000 for a in assets) >= 10  # ≥ 1M CNY
    assert 1 <= sum(a >= 1_000_000_000 for a in assets) <= 20  # a handful ≥ 10M CNY


def test_manager_hierarchy(sample: SampleData) -> None:
    by_id = {m.manager_id: m for m in sample.managers}
    roles = Counter(m.role for m in sample.managers)
    assert set(roles) == {"account_manager", "supervisor", "branch_vp", "branch_president"}
    assert roles["account_manager"] > roles["supervisor"] >= roles["branch_president"] >= 2
    for c in sample.customers:
        chain = [by_id[c.manager_id].role]  # type: ignore[index]
        m = by_id[c.manager_id]  # type: ignore[index]
        while m.supervisor_id:
            m = by_id[m.supervisor_id]
            chain.append(m.role)
            assert m.branch_id == c.branch_id
        assert chain == ["account_manager", "supervisor", "branch_vp", "branch_president"]


def test_habits_dormancy_and_signals(sample: SampleData, events: list[dict]) -> None:
    txs = [e for e in events if e["type"] == "transaction"]
    kinds = Counter(e["kind"] for e in txs)
    assert set(kinds) == {"deposit", "withdrawal", "transfer_in", "transfer_out", "fee",
                          "interest"}
    assert any(e.get("counterparty_bank") for e in txs)
    assert {e["channel"] for e in txs} >= {"counter", "atm", "mobile", "online", "payroll"}
    # a dormant spell: ≥ 60 days without customer-initiated activity while interest still posts
    by_cust: dict[str, list[dict]] = defaultdict(list)
    for e in txs:
        by_cust[e["customer_id"]].append(e)
    day = 86_400_000
    start, end = parse_event(events[0]).ts, parse_event(events[-1]).ts
    sleepers = woken = 0
    for evs in by_cust.values():
        own = [parse_event(e).ts for e in evs if e["kind"] not in ("interest", "fee")]
        bank = [parse_event(e).ts for e in evs if e["kind"] == "interest"]
        edges = [start, *own, end]
        gaps = [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b - a >= 60 * day]
        if gaps and any(a < t < b for a, b in gaps for t in bank):
            sleepers += 1
            woken += any(b != end for _, b in gaps)
    assert sleepers >= 10 and woken >= 3
    # a lost card: eight or more ATM withdrawals within 24 hours
    atm: dict[str, list[int]] = defaultdict(list)
    for e in txs:
        if e["channel"] == "atm" and e["kind"] == "withdrawal":
            atm[e["customer_id"]].append(parse_event(e).ts)
    assert any(b - a < day for ts in atm.values() for a, b in zip(ts, ts[7:], strict=False))
    # salary: the same amount on the same day of month
    pay = [e for e in txs if e["channel"] == "payroll"]
    per = defaultdict(set)
    for e in pay:
        per[e["customer_id"]].add((e["amount"], e["ts"][8:10]))
    assert pay and all(len(v) == 1 for v in per.values())


def test_complaints_resolved_fast_late_never_and_repeated(events: list[dict]) -> None:
    comp = [e for e in events if e["type"] == "complaint"]
    by_id: dict[str, list[str]] = defaultdict(list)
    for e in comp:
        by_id[e["complaint_id"]].append(e["status"])
    fates = Counter(tuple(v) for v in by_id.values())
    assert fates[("opened", "resolved")] and fates[("opened", "updated", "resolved")]
    assert fates[("opened",)]  # never resolved
    per_cust = Counter(e["customer_id"] for e in comp if e["status"] == "opened")
    assert max(per_cust.values()) >= 2  # repeated complaints
    opened = [e for e in comp if e["status"] == "opened"]
    assert all(e["text"] and e["category"] for e in opened)


def test_balances_are_consistent(events: list[dict]) -> None:
    last: dict[str, int] = {}
    for e in events:
        if e["type"] != "transaction":
            continue
        ev = parse_event(e)
        assert isinstance(ev, Transaction) and ev.balance_after is not None
        if ev.customer_id in last:
            sign = 1 if ev.kind in ("deposit", "transfer_in", "interest") else -1
            assert ev.balance_after == last[ev.customer_id] + sign * ev.amount
        last[ev.customer_id] = ev.balance_after
        assert ev.balance_after >= 0


def test_bad_sizes_rejected() -> None:
    with pytest.raises(ValueError):
        generate(0, 10)
    assert orjson  # used above via parse of lines
