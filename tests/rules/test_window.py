"""window: exact sums, relative to assets, bucket edges, count/max, situation per firing spell,
out-of-order within the window."""

from __future__ import annotations

from factories import run

OUT = {"id": "out7", "kind": "window", "where": 'event.kind in ["withdrawal", "transfer_out"]',
       "window": "7d", "having": "agg.sum >= 0.30", "cooldown": "0s"}


def test_exact_cent_sum_at_threshold(rules, engine, txn):
    eng = engine(rules(OUT))
    assert eng.process(txn(amount="0.10")) == []
    t = eng.process(txn(amount="0.20", ts="2024-03-01T11:00:00+08:00"))
    assert t and t[0].evidence["window_sum"] == "0.30"
    assert t[0].evidence["window_count"] == 2


def test_relative_to_assets(rules, engine, txn):
    r = {**OUT, "having": "agg.sum >= 0.5 * customer.assets"}
    eng = engine(rules(r), {"customer_id": "c1", "assets": "200000"})
    assert eng.process(txn(amount="99999.99")) == []
    t = eng.process(txn(amount="0.01", ts="2024-03-02T10:00:00+08:00"))
    assert t[0].evidence["share"] == 0.5
    assert t[0].evidence["assets"] == "200000.00"


def test_window_edges_follow_local_day_buckets(rules, engine, txn):
    # 7d with 1d buckets = the current local day and the six before it
    r = {**OUT, "having": "agg.sum >= 200"}
    eng = engine(rules(r))
    eng.process(txn(amount="100", ts="2024-03-01T23:59:00+08:00"))
    # 2024-03-08 is the 8th local day: 03-01 has left the window
    assert eng.process(txn(amount="100", ts="2024-03-08T00:00:00+08:00")) == []
    eng2 = engine(rules(r))
    eng2.process(txn(amount="100", ts="2024-03-01T00:00:00+08:00"))
    # 03-07 23:59 local: still the 7th day, 03-01 is inside
    assert len(eng2.process(txn(amount="100", ts="2024-03-07T23:59:59+08:00"))) == 1


def test_same_instant_in_other_offset_is_the_same_bucket(rules, engine, txn):
    r = {**OUT, "having": "agg.sum >= 200"}
    eng = engine(rules(r))
    eng.process(txn(amount="100", ts="2024-03-01T00:30:00+08:00"))
    # 2024-03-07T16:00Z = 03-08 00:00 +08:00 → 03-01 is out
    assert eng.process(txn(amount="100", ts="2024-03-07T16:00:00Z")) == []
    eng2 = engine(rules(r))
    eng2.process(txn(amount="100", ts="2024-03-01T00:30:00+08:00"))
    assert eng2.process(txn(amount="100", ts="2024-03-07T15:59:59Z"))


def test_count_and_max(rules, engine, txn, complaint):
    r = {"id": "cnt", "kind": "window", "where": 'event.type == "complaint"', "window": "1d",
         "aggregate": "count", "having": "agg.count >= 2"}
    eng = engine(rules(r))
    assert eng.process(complaint(complaint_id="a")) == []
    assert eng.process(complaint(complaint_id="b", ts="2024-03-01T11:00:00+08:00"))
    r2 = {"id": "mx", "kind": "window", "where": "true", "window": "2d", "aggregate": "max",
          "having": "agg.max >= 500"}
    eng2 = engine(rules(r2))
    t = run(eng2, [txn(amount="100"), txn(amount="600", ts="2024-03-01T12:00:00+08:00")])
    assert t[0].evidence["window_max"] == "600.00"


def test_one_task_per_firing_spell_with_revisions(rules, engine, txn):
    r = {**OUT, "having": "agg.sum >= 100", "cooldown": "30d"}
    eng = engine(rules(r))
    a = eng.process(txn(amount="100", event_id="a"))
    b = eng.process(txn(amount="1", event_id="b", ts="2024-03-02T10:00:00+08:00"))
    assert a[0].task_id == b[0].task_id and b[0].revision == 1
    assert b[0].event_ids == ["a", "b"]
    assert b[0].created_at == a[0].created_at
    assert b[0].updated_at == "2024-03-02T10:00:00+08:00"


def test_new_spell_new_task_after_cooldown(rules, engine, txn):
    r = {**OUT, "having": "agg.sum >= 100", "cooldown": "1d"}
    eng = engine(rules(r))
    a = eng.process(txn(amount="100"))
    b = eng.process(txn(amount="100", ts="2024-04-01T10:00:00+08:00"))
    assert a[0].task_id != b[0].task_id and b[0].revision == 0


def test_out_of_order_within_window_counts(rules, engine, txn):
    r = {**OUT, "having": "agg.sum >= 300"}
    eng = engine(rules(r), late_grace_ms=3 * 86_400_000)
    eng.process(txn(amount="100", ts="2024-03-05T10:00:00+08:00"))
    eng.process(txn(amount="100", ts="2024-03-03T10:00:00+08:00"))  # older, within grace
    assert eng.process(txn(amount="100", ts="2024-03-05T11:00:00+08:00"))


def test_bucket_must_divide_window(rules):
    import pytest

    from alerting.errors import RulesError

    with pytest.raises(RulesError, match="multiple of bucket"):
        rules({**OUT, "window": "7d", "bucket": "5h"})


def test_evidence_holds_only_the_aggregates_of_the_rule(rules, engine, txn):
    eng = engine(rules(OUT), {"customer_id": "c1", "assets": "3"})
    t = run(eng, [txn(amount="0.10"), txn(amount="0.20", ts="2024-03-01T11:00:00+08:00")])
    ev = t[0].evidence
    assert "window_max" not in ev and ev["window_sum"] == "0.30" and ev["share"] == 0.1
    r = {"id": "cnt", "kind": "window", "where": "true", "window": "1d",
         "aggregate": "count", "having": "agg.count >= 2"}
    t = run(engine(rules(r)), [txn(amount="7"), txn(amount="9", ts="2024-03-01T11:00:00+08:00")])
    ev = t[0].evidence
    assert ev["window_count"] == 2
    assert not {"window_sum", "window_max", "share"} & set(ev)


def test_share_is_rounded_to_four_decimals(rules, engine, txn):
    r = {**OUT, "having": "agg.sum >= 1"}
    eng = engine(rules(r), {"customer_id": "c1", "assets": "3"})
    t = eng.process(txn(amount="1"))
    assert t[0].evidence["share"] == 0.3333
