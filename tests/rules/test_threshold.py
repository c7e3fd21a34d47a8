"""threshold: single-event conditions at their boundaries, exact money, tiers, time zones."""

from __future__ import annotations

from factories import run

LARGE = {"id": "large", "kind": "threshold", "severity": "high", "cooldown": "0s",
         "where": 'event.kind == "withdrawal" and event.amount >= tier_limit(customer)'}


def test_below_at_and_above_the_tier_limit(rules, engine, txn):
    eng = engine(rules(LARGE))  # c1: assets 300000 → key tier, limit 100000
    assert eng.process(txn(amount="99999.99")) == []
    at = eng.process(txn(amount="100000.00", event_id="at"))
    above = eng.process(txn(amount="100000.01", event_id="above"))
    assert [t.event_ids for t in at + above] == [["at"], ["above"]]
    assert at[0].evidence == {"tier": "key", "amount": "100000.00", "kind": "withdrawal",
                              "channel": "", "limit": "100000.00"}
    assert at[0].customer_tier == "key" and at[0].severity == "high"


def test_explicit_tier_wins_over_assets(rules, engine, txn):
    eng = engine(rules(LARGE), {"customer_id": "c1", "assets": "300000", "tier": "vip"})
    assert eng.process(txn(amount="100000")) == []  # the vip limit is 500000
    assert len(eng.process(txn(amount="500000"))) == 1


def test_unknown_customer_counts_as_zero_assets(rules, engine, txn):
    eng = engine(rules(LARGE))
    assert eng.process(txn(customer="stranger", amount="19999.99")) == []
    t = eng.process(txn(customer="stranger", amount="20000"))[0]  # the lowest tier: mass
    assert (t.customer_id, t.customer_tier, t.assignee_id) == ("stranger", "mass", None)


def test_exact_cent_literal(rules, engine, txn):
    r = {"id": "sum", "kind": "threshold", "cooldown": "0s",
         "where": "event.amount >= 0.30"}
    eng = engine(rules(r))
    assert eng.process(txn(amount="0.29")) == []
    assert len(eng.process(txn(amount=0.30))) == 1  # a float on the wire, exactly 30 fen


def test_complaint_fields_make_a_rule_complaint_only(rules, engine, txn, complaint):
    r = {"id": "fee-complaint", "kind": "threshold", "where": 'event.category == "fees"'}
    eng = engine(rules(r))
    assert eng.process(txn(amount="10")) == []
    tasks = eng.process(complaint(category="fees"))
    assert tasks[0].evidence["category"] == "fees"


def test_created_at_keeps_the_event_offset_and_id_is_deterministic(rules, engine, txn):
    rs = rules(LARGE)
    a = engine(rs).process(txn(amount="200000", ts="2024-03-01T02:00:00Z", event_id="x"))
    b = engine(rs).process(txn(amount="200000", ts="2024-03-01T10:00:00+08:00",
                               event_id="x"))
    assert a[0].task_id == b[0].task_id
    assert a[0].created_ms == b[0].created_ms
    assert a[0].created_at == "2024-03-01T02:00:00+00:00"
    assert b[0].created_at == "2024-03-01T10:00:00+08:00"
    assert b[0].due_at == "2024-03-02T10:00:00+08:00"  # high → 1d by default


def test_title_in_default_locale_and_translation(rules, engine, txn):
    r = {**LARGE, "title": {"zh": "大额 {{ amount|money }}", "en": "Large {{ amount|money }}"},
         "body": {"zh": "{{ tier_label }}", "en": "{{ tier_label }}"}}
    t = engine(rules(r)).process(txn(amount="123456.78"))[0]
    assert t.title == "大额 123,456.78"
    assert t.body == "重点"
    assert t.translations == {"en": {"title": "Large 123,456.78", "body": "Key"}}


def test_assignee_follows_tier_owner_role(rules, txn):
    from alerting.directory import Customer, Directory, Manager
    from alerting.engine import Engine

    d = Directory()
    d.put_manager(Manager("vp1", role="branch_vp"))
    d.put_manager(Manager("m1", supervisor_id="vp1"))
    d.put_customer(Customer("c1", assets=200000000, manager_id="m1"))
    d.put_customer(Customer("c2", assets=30000000, manager_id="m1"))
    eng = Engine(rules(LARGE), d)
    vip = eng.process(txn(customer="c1", amount="600000"))[0]
    key = eng.process(txn(customer="c2", amount="150000"))[0]
    assert (vip.assignee_id, vip.assignee_role) == ("vp1", "branch_vp")
    assert (key.assignee_id, key.assignee_role) == ("m1", "account_manager")


def test_run_helper_collects(rules, engine, txn):
    eng = engine(rules(LARGE))
    assert len(run(eng, [txn(amount="200000"), txn(amount="1")])) == 1
