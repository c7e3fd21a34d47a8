"""repeated, sla and sequence kinds at their boundaries."""

from __future__ import annotations

import pytest
from factories import run

REP = {"id": "rep", "kind": "repeated", "count": 3, "window": "30d",
       "where": 'event.type == "complaint" and event.status == "opened"'}
SLA = {"id": "sla", "kind": "sla", "where": 'event.type == "complaint"',
       "steps": [{"after": "24h"}, {"after": "72h", "severity": "high",
                                     "escalate_to": "supervisor"},
                 {"after": "7d", "severity": "critical", "escalate_to": "branch_vp"}]}
SEQ = {"id": "seq", "kind": "sequence", "within": "14d",
       "first": 'event.type == "complaint" and event.status == "opened"',
       "then": 'event.kind == "transfer_out" and event.counterparty_bank != null'}


def _opened(complaint, day, cid):
    return complaint(complaint_id=cid, ts=f"2024-03-{day:02d}T10:00:00+08:00")


def test_repeated_window_is_inclusive(rules, engine, complaint):
    eng = engine(rules(REP))
    run(eng, [_opened(complaint, 1, "k1"), _opened(complaint, 15, "k2")])
    t = eng.process(_opened(complaint, 31, "k3"))  # exactly 30 days after k1
    assert t[0].evidence["complaint_ids"] == ["k1", "k2", "k3"]
    assert t[0].evidence["count"] == 3


def test_repeated_just_outside_the_window(rules, engine, complaint):
    eng = engine(rules(REP))
    run(eng, [complaint(complaint_id="k1", ts="2024-03-01T09:59:59+08:00"),
              _opened(complaint, 15, "k2")])
    assert eng.process(_opened(complaint, 31, "k3")) == []


def test_repeated_ignores_updates(rules, engine, complaint):
    eng = engine(rules(REP))
    evs = [_opened(complaint, 1, "k1"), complaint(complaint_id="k1", status="updated",
                                                  ts="2024-03-02T10:00:00+08:00"),
           complaint(complaint_id="k1", status="resolved", ts="2024-03-03T10:00:00+08:00")]
    assert run(eng, evs) == []


def test_sla_steps_fire_in_order_with_escalation(rules, engine, complaint):
    from alerting.timeutil import parse_ts

    eng = engine(rules(SLA))
    eng.process(_opened(complaint, 1, "k1"))
    got = eng.advance(parse_ts("2024-03-09T10:00:00+08:00")[0])
    assert [t.evidence["step"] for t in got] == [1, 2, 3]
    assert [t.severity for t in got] == ["medium", "high", "critical"]
    assert [t.escalation_level for t in got] == [0, 1, 2]
    assert got[1].created_at == "2024-03-04T10:00:00+08:00"
    assert len({t.task_id for t in got}) == 3
    assert eng.advance(parse_ts("2024-04-01T00:00:00+08:00")[0]) == []


def test_sla_resolved_just_in_time(rules, engine, complaint):
    from alerting.timeutil import parse_ts

    eng = engine(rules(SLA))
    eng.process(_opened(complaint, 1, "k1"))
    eng.process(complaint(complaint_id="k1", status="resolved",
                          ts="2024-03-02T09:59:59+08:00"))
    assert eng.advance(parse_ts("2024-04-01T00:00:00+08:00")[0]) == []


def test_sla_at_exactly_24h_fires(rules, engine, complaint):
    from alerting.timeutil import parse_ts

    eng = engine(rules(SLA))
    eng.process(_opened(complaint, 1, "k1"))
    assert len(eng.advance(parse_ts("2024-03-02T10:00:00+08:00")[0])) == 1


def test_sla_fires_on_the_customers_next_event_before_it(rules, engine, complaint, txn):
    eng = engine(rules(SLA))
    eng.process(_opened(complaint, 1, "k1"))
    # resolved after 30h: step 1 (24h) is due before the resolution is applied
    got = eng.process(complaint(complaint_id="k1", status="resolved",
                                ts="2024-03-02T16:00:00+08:00"))
    assert [t.evidence["step"] for t in got] == [1]


def test_sla_steps_must_increase(rules):
    from alerting.errors import RulesError

    with pytest.raises(RulesError) as e:
        rules({**SLA, "steps": [{"after": "72h"}, {"after": "24h"}]})
    p = e.value.problems[0]
    assert p.rule_id == "sla" and "steps[1].after" in p.message


def test_sequence_within_boundary(rules, engine, complaint, txn):
    eng = engine(rules(SEQ))
    eng.process(_opened(complaint, 1, "k1"))
    t = eng.process(txn(kind="transfer_out", counterparty_bank="ICBC", amount="5000",
                        ts="2024-03-15T10:00:00+08:00"))  # exactly 14 days
    assert t[0].evidence["gap_days"] == 14.0 and t[0].evidence["then_amount"] == "5000.00"
    eng2 = engine(rules(SEQ))
    eng2.process(_opened(complaint, 1, "k1"))
    assert eng2.process(txn(kind="transfer_out", counterparty_bank="ICBC",
                            ts="2024-03-15T10:00:01+08:00")) == []


def test_sequence_needs_the_order(rules, engine, complaint, txn):
    eng = engine(rules(SEQ))
    eng.process(txn(kind="transfer_out", counterparty_bank="ICBC"))
    assert eng.process(_opened(complaint, 2, "k1")) == []
    # same-bank transfer does not match ``then``
    assert eng.process(txn(kind="transfer_out", ts="2024-03-03T10:00:00+08:00")) == []
