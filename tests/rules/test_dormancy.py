"""reactivation and inactivity: seeding from last_activity_at, what counts as activity, timers
via advance vs via the customer's next event, once per spell."""

from __future__ import annotations

from factories import run

WAKE = {"id": "wake", "kind": "reactivation", "dormant_for": "180d"}
IDLE = {"id": "idle", "kind": "inactivity", "after": "90d"}
SEEDED = {"customer_id": "c1", "assets": "50000", "manager_id": "m1",
          "last_activity_at": "2024-01-01T10:00:00+08:00"}


def test_reactivation_boundary(rules, engine, txn):
    eng = engine(rules(WAKE), SEEDED)
    assert eng.process(txn(kind="deposit", ts="2024-06-29T09:59:59+08:00")) == []
    eng = engine(rules(WAKE), SEEDED)
    t = eng.process(txn(kind="deposit", ts="2024-06-29T10:00:00+08:00"))
    assert t[0].evidence["days_dormant"] == 180
    assert t[0].evidence["last_activity_at"] == "2024-01-01T10:00:00+08:00"


def test_interest_and_fee_do_not_count_as_activity(rules, engine, txn):
    eng = engine(rules(WAKE), SEEDED)
    run(eng, [txn(kind="interest", ts="2024-03-01T10:00:00+08:00"),
              txn(kind="fee", ts="2024-05-01T10:00:00+08:00")])
    assert eng.process(txn(kind="deposit", ts="2024-07-01T10:00:00+08:00"))
    # the deposit was activity: the next one is not a reactivation
    assert eng.process(txn(kind="deposit", ts="2024-07-02T10:00:00+08:00")) == []


def test_activity_section_is_configurable(rules, engine, complaint):
    eng = engine(rules(WAKE, activity={"complaints": False}), SEEDED)
    assert eng.process(complaint(ts="2024-08-01T10:00:00+08:00")) == []


def test_no_seed_no_reactivation_on_first_event(rules, engine, txn):
    eng = engine(rules(WAKE))
    assert eng.process(txn(kind="deposit")) == []


def test_inactivity_fires_once_per_spell_via_advance(rules, engine, txn):
    from alerting.timeutil import parse_ts

    eng = engine(rules(IDLE), SEEDED)
    eng.seed(eng.directory.customers.values())
    due = parse_ts("2024-03-31T10:00:00+08:00")[0]
    assert eng.advance(due - 1) == []
    t = eng.advance(due)
    assert len(t) == 1 and t[0].created_at == "2024-03-31T10:00:00+08:00"
    assert eng.advance(due + 86_400_000 * 100) == []  # not again in the same spell
    # active again, then silent again → a new spell, a new task
    eng.process(txn(kind="deposit", ts="2024-08-01T10:00:00+08:00"))
    t2 = eng.advance(parse_ts("2024-12-01T00:00:00+08:00")[0])
    assert len(t2) == 1 and t2[0].task_id != t[0].task_id
    assert t2[0].created_at == "2024-10-30T10:00:00+08:00"


def test_timer_via_next_event_equals_timer_via_advance(rules, engine, txn):
    from alerting.timeutil import parse_ts

    rs = rules(IDLE, WAKE)
    a = engine(rs, SEEDED)
    a.seed(a.directory.customers.values())
    got_a = a.advance(parse_ts("2024-05-01T00:00:00+08:00")[0])
    got_a += a.process(txn(kind="deposit", ts="2024-07-15T10:00:00+08:00", event_id="w"))
    b = engine(rs, SEEDED)
    got_b = b.process(txn(kind="deposit", ts="2024-07-15T10:00:00+08:00", event_id="w"))
    assert [t.to_json() for t in got_a] == [t.to_json() for t in got_b]
    assert [t.rule_id for t in got_b] == ["idle", "wake"]  # the timer fires first


def test_inactivity_where_sees_only_the_customer(rules):
    import pytest

    from alerting.errors import RulesError

    with pytest.raises(RulesError) as e:
        rules({**IDLE, "where": "event.amount > 1"})
    assert e.value.problems[0].field == "where"


def test_advance_orders_by_due_then_customer(rules, engine):
    from alerting.timeutil import parse_ts

    rs = rules(IDLE)
    eng = engine(rs, {**SEEDED, "customer_id": "b", "last_activity_at": "2024-01-02"
                      "T10:00:00+08:00"},
                 {**SEEDED, "customer_id": "a", "last_activity_at": "2024-01-03T10:00:00+08:00"},
                 {**SEEDED, "customer_id": "c", "last_activity_at": "2024-01-02T10:00:00+08:00"})
    eng.seed(eng.directory.customers.values())
    got = eng.advance(parse_ts("2024-12-01T00:00:00+08:00")[0])
    assert [t.customer_id for t in got] == ["b", "c", "a"]
