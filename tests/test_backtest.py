"""alerting.backtest: the replay loop (with the real engine) and the pure summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from alerting.backtest import (
    Replay,
    TaskCollector,
    build_engine,
    diff,
    forecast,
    iso_week,
    replay,
    summarise,
)
from alerting.directory import Customer, Directory
from alerting.io import DeadLetter
from alerting.tasks import Task

RULES = Path(__file__).parent / "cli" / "data" / "rules_small.yaml"


def _tx(eid: str, cid: str, ts: str, amount: str = "100.00", kind: str = "withdrawal") -> bytes:
    return orjson.dumps({"event_id": eid, "type": "transaction", "customer_id": cid,
                         "account_id": "A", "ts": ts, "kind": kind, "amount": amount})


@pytest.fixture
def engine():  # type: ignore[no-untyped-def]
    d = Directory({"C1": Customer("C1", assets=1_000_000, manager_id="M1")})
    return build_engine(RULES, d)


def test_replay_dead_letters_late_events_and_continues(engine) -> None:  # type: ignore[no-untyped-def]
    lines = [
        _tx("e1", "C1", "2025-03-10T10:00:00+08:00"),
        _tx("e2", "C1", "2025-03-01T10:00:00+08:00"),  # 9 days older: late
        b"not json",
        _tx("e3", "C1", "2025-03-10T10:30:00+08:00", amount="60000"),  # large: a task
        _tx("e3", "C1", "2025-03-10T10:30:00+08:00", amount="60000"),  # duplicate: ignored
    ]
    dead: list[DeadLetter] = []
    got = TaskCollector(1)
    r = replay(enumerate(lines, 1), [engine], dead.append, got)
    assert [(d.line, d.reason) for d in dead] == [(2, "late_event"), (3, "bad_json")]
    assert r.events_read == 5 and r.lines_ok == 3
    assert r.dead_letters == {"late_event": 1, "bad_json": 1}
    assert [t.rule_id for t in got.final()] == ["large-withdrawal"]
    assert engine.stats.duplicates == 1


def test_replay_advances_to_the_last_event_so_timers_fire(engine) -> None:  # type: ignore[no-untyped-def]
    lines = [_tx("e1", "C1", "2025-01-01T10:00:00+08:00", kind="deposit"),
             _tx("e2", "C2", "2025-03-05T10:00:00+08:00", kind="deposit")]
    got = TaskCollector(1)
    replay(enumerate(lines, 1), [engine], print, got)
    # C1 has been quiet for 60 days by C2's event time: the inactivity timer fired at the end
    assert [(t.rule_id, t.customer_id) for t in got.final()] == [("dormant-60d", "C1")]


def _task(tid: str, rule: str, who: str | None, created_ms: int, created_at: str,
          revision: int = 0) -> Task:
    return Task(task_id=tid, rule_id=rule, severity="high", customer_id="C", title="t", body="",
                evidence={}, event_ids=[], created_at=created_at, due_at=created_at,
                created_ms=created_ms, assignee_id=who, revision=revision)


DAY = 86_400_000
T0 = 1735696800000  # 2025-01-01T10:00:00+08:00


def test_collector_keeps_the_latest_revision() -> None:
    c = TaskCollector(1)
    c(0, _task("t1", "r", "M", T0, "2025-01-01T10:00:00+08:00"))
    c(0, _task("t1", "r", "M", T0, "2025-01-01T10:00:00+08:00", revision=2))
    c(0, _task("t1", "r", "M", T0, "2025-01-01T10:00:00+08:00", revision=1))
    assert [t.revision for t in c.final()] == [2] and c.emissions == [3] and c.updates == [2]


def test_forecast_counts_quiet_days_and_local_days() -> None:
    r = Replay(first_ts=T0, last_ts=T0 + 9 * DAY, tz=480)
    # 23:30 local on Jan 1 and 00:30 local on Jan 2 are different local days
    late = T0 + 13 * 3_600_000 + 30 * 60_000
    tasks = [_task("a", "r", "M1", T0, "x"), _task("b", "r", "M1", late, "x"),
             _task("c", "r", "M1", late + 3_600_000, "x"),
             _task("d", "r", "M2", T0 + 3 * DAY, "x"), _task("e", "r", None, T0, "x")]
    fc = forecast(tasks, r, 10)
    assert [(m.manager_id, m.total, m.max_per_day, m.busiest_day) for m in fc] == [
        ("M1", 3, 2, "2025-01-01"), ("(unassigned)", 1, 1, "2025-01-01"),
        ("M2", 1, 1, "2025-01-04")]
    assert fc[0].mean_per_day == pytest.approx(0.3)


def test_summary_groups_and_weeks() -> None:
    r = Replay(first_ts=T0, last_ts=T0 + 6 * DAY, tz=480)
    tasks = [_task("a", "r1", "M1", T0, "2025-01-01T10:00:00+08:00"),
             _task("b", "r2", "M1", T0 + 5 * DAY, "2025-01-06T10:00:00+08:00")]
    s = summarise(tasks, r)
    assert s.days == 7 and s.by_rule == {"r1": 1, "r2": 1} and s.by_manager == {"M1": 2}
    assert s.by_week == {"2025-W01": 1, "2025-W02": 1}
    assert iso_week("2024-12-30T01:00:00+08:00") == "2025-W01"
    assert iso_week("2025-01-05T23:30:00+08:00") == "2025-W01"


def test_diff_by_task_id() -> None:
    a = [_task("x", "r1", "M", 1, "t"), _task("y", "r1", "M", 2, "t"),
         _task("z", "r2", "M", 3, "t")]
    b = [_task("y", "r1", "M", 2, "t"), _task("w", "r3", "M", 4, "t")]
    d = diff(a, b)
    assert [t.task_id for t in d.only_a] == ["x", "z"] and [t.task_id for t in d.only_b] == ["w"]
    assert d.both == 1
    assert d.per_rule == {"r1": (1, 0, 1), "r2": (1, 0, 0), "r3": (0, 1, 0)}


class _BuggyEngine:
    """A stand-in for an engine with a bug (the real one cannot be made to crash on demand):
    raises on event e2, counts the rest."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def process(self, ev):  # type: ignore[no-untyped-def]
        if ev.event_id == "e2":
            raise KeyError("boom")
        self.seen.append(ev.event_id)
        return []

    def advance(self, watermark_ms: int) -> list[Task]:
        return []


def test_an_engine_bug_on_one_event_is_dead_lettered_and_the_pass_continues() -> None:
    lines = [_tx(f"e{i}", "C1", f"2025-03-1{i}T10:00:00+08:00") for i in range(1, 4)]
    dead: list[DeadLetter] = []
    eng = _BuggyEngine()
    r = replay(enumerate(lines, 1), [eng], dead.append, TaskCollector(1))
    assert [(d.line, d.reason, d.detail) for d in dead] == [(2, "engine_error", "KeyError")]
    assert eng.seen == ["e1", "e3"] and r.engine_errors == 1 and r.lines_ok == 2


@pytest.mark.parametrize("n_engines", [1, 2])
def test_replay_rejects_lines_exactly_as_read_events(n_engines: int) -> None:
    # replay has io.read_events' decoding written out in its hot loop: they must agree
    from alerting.io import MAX_LINE_BYTES, read_events

    lines = [_tx("e1", "C1", "2025-03-10T10:00:00+08:00"), b"{", b"[1]", b'{"type": "x"}',
             _tx("e2", "C1", "2025-03-10T11:00:00+08:00", amount="-5"),
             _tx("e3", "C1", "not a time"), b"x" * (MAX_LINE_BYTES + 1),
             _tx("e4", "C1", "2025-03-10T12:00:00Z", amount="60000")]
    expected: list[DeadLetter] = []
    ok = list(read_events(enumerate(lines, 1), expected.append))
    engines = [build_engine(RULES, Directory({"C1": Customer("C1", assets=1_000_000,
                                                              manager_id="M1")}))
               for _ in range(n_engines)]
    dead: list[DeadLetter] = []
    got = TaskCollector(n_engines)
    r = replay(enumerate(lines, 1), engines, dead.append, got)
    assert dead == expected and len(dead) == 6
    assert r.lines_ok == len(ok) == 2 and r.events_read == len(lines)
    assert r.first_ts is not None and r.last_ts is not None and r.last_ts > r.first_ts
    assert [t.rule_id for t in got.final(n_engines - 1)] == ["large-withdrawal"]


class _RecordingEngine:
    """Records the order events reach it (a mock of the engine: the order is the subject)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def process(self, ev: Any) -> list[Task]:
        self.seen.append(ev.event_id)
        return []

    def advance(self, watermark_ms: int) -> list[Task]:
        return []


def _co(eid: str, cid: str, ts: str) -> bytes:
    return orjson.dumps({"event_id": eid, "type": "complaint", "complaint_id": "K" + eid,
                         "customer_id": cid, "ts": ts, "status": "opened"})


def _cu(eid: str, cid: str, ts: str) -> bytes:
    return orjson.dumps({"event_id": eid, "type": "customer", "customer_id": cid, "ts": ts,
                         "assets": "1000.00"})


def test_replay_applies_one_instants_events_in_the_workers_order() -> None:
    """Equal ts: profile updates, then transactions, then complaints (a worker's topic merge),
    each type in file order; other instants as read."""
    t1, t2 = "2025-03-10T10:00:00+08:00", "2025-03-10T10:00:01+08:00"
    lines = [_co("k1", "C1", t1), _tx("x1", "C1", t1), _co("k2", "C2", t1),
             _tx("x2", "C2", t1), _cu("u1", "C1", t1),
             _tx("x3", "C1", t2), _co("k3", "C1", t2), b"not json", _tx("x4", "C1", t2)]
    eng = _RecordingEngine()
    dead: list[DeadLetter] = []
    r = replay(enumerate(lines, 1), [eng], dead.append, TaskCollector(1))
    assert eng.seen == ["u1", "x1", "x2", "k1", "k2", "x3", "x4", "k3"]
    assert [(d.line, d.reason) for d in dead] == [(8, "bad_json")] and r.lines_ok == 8


def test_replay_order_of_an_instant_decides_a_sequence_rule() -> None:
    """A complaint and a transfer out in the same second: the transfer comes first, so the
    sequence matches the earlier complaint (as on a worker), whatever the file order."""
    from alerting.engine import Engine
    from alerting.models import parse_event
    from alerting.rules.loader import load_rules

    root = Path(__file__).resolve().parents[1]
    d = Directory({"C1": Customer("C1", assets=1_000_000, manager_id="M1")})
    old, same = "2025-01-24T18:50:27+08:00", "2025-01-28T18:50:27+08:00"
    out = orjson.dumps({"event_id": "x1", "type": "transaction", "customer_id": "C1",
                        "account_id": "A", "ts": same, "kind": "transfer_out",
                        "amount": "36581.40", "counterparty_bank": "ABC"})
    lines = [_co("k0", "C1", old), _co("k1", "C1", same), out]
    got = TaskCollector(1)
    replay(enumerate(lines, 1), [build_engine(root / "rules.yaml", d)], print, got)
    seq = [t for t in got.final() if t.rule_id == "complaint-then-transfer-out"]
    assert [t.event_ids for t in seq] == [["k0", "x1"]]
    # the file order applied as it is would have matched the same-second complaint
    eng = Engine(load_rules(root / "rules.yaml"), Directory(dict(d.customers)))
    tasks = [t for raw in lines for t in eng.process(parse_event(orjson.loads(raw)))]
    assert [t.event_ids for t in tasks if t.rule_id == "complaint-then-transfer-out"] == [
        ["k1", "x1"]]
