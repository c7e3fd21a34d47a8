"""The shipped rules.yaml: valid, covers every kind with ≥ 10 rules, its in-file tests pass; the
``alerting rules check|test`` commands end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from alerting.cli import app
from alerting.rules.loader import load_rules
from alerting.rules.registry import KINDS
from alerting.rules.testing import run_tests

SAMPLE = Path(__file__).resolve().parents[2] / "rules.yaml"


def test_sample_covers_every_kind():
    rs = load_rules(SAMPLE)
    assert len(rs.rules) >= 10
    assert rs.kinds == set(KINDS)
    tested = {e.rule for t in rs.tests for e in t.expect}
    assert tested == {r.id for r in rs.rules}  # an in-file test for every rule


def test_sample_in_file_tests_pass():
    results = run_tests(load_rules(SAMPLE))
    assert [(r.name, r.problems) for r in results if not r.ok] == []


def test_cli_check_ok():
    res = CliRunner().invoke(app, ["rules", "check", str(SAMPLE)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("ok: 12 rules (8 kinds)")


def test_cli_check_errors(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("version: 1\nrules:\n  - id: x\n    kind: threshold\n    title: t\n"
                 "    where: event.amount >=\n")
    res = CliRunner().invoke(app, ["rules", "check", str(f)])
    assert res.exit_code == 1
    assert res.output.startswith(f"{f}:6: rule 'x' field 'where': ")


def test_cli_test_pass_and_fail(tmp_path):
    res = CliRunner().invoke(app, ["rules", "test", str(SAMPLE)])
    assert res.exit_code == 0, res.output
    assert "0 failed" in res.output
    broken = tmp_path / "r.yaml"
    broken.write_text(SAMPLE.read_text(encoding="utf-8").replace(
        "{rule: complaint-sla, customer: c9, count: 2}",
        "{rule: complaint-sla, customer: c9, count: 3}"), encoding="utf-8")
    res = CliRunner().invoke(app, ["rules", "test", str(broken)])
    assert res.exit_code == 1
    assert "FAIL an unresolved complaint escalates" in res.output
    assert "expected 3 task(s) of rule 'complaint-sla' for customer 'c9', got 2" in res.output


def test_sample_dormancy_task_names_the_tier_once():
    from factories import make_directory

    from alerting.engine import Engine
    from alerting.timeutil import parse_ts

    d = make_directory({"customer_id": "c1", "assets": "60000", "manager_id": "m1",
                        "last_activity_at": "2024-01-01T09:00:00+08:00"})
    eng = Engine(load_rules(SAMPLE), d)
    eng.seed(d.customers.values())
    t = eng.advance(parse_ts("2024-06-01T00:00:00+08:00")[0])
    dormant = [x for x in t if x.rule_id == "dormant-90d"]
    assert dormant and dormant[0].body.startswith("一般客户 c1 ")
    assert "客户客户" not in dormant[0].body
    assert dormant[0].translations["en"]["body"].startswith("General customer c1 ")


def test_sample_routing_and_calendar_load():
    rs = load_rules(SAMPLE)
    assert {r.name for r in rs.routing.receivers} == {"managers", "supervisors"}
    assert rs.routing.escalation is not None and rs.routing.escalation.business_time
    assert rs.routing.digest is not None and rs.routing.digest.at == "08:30"
    assert rs.calendar.offset_minutes == 480
    assert all(d.isoweekday() < 6 for d in rs.calendar.holidays)
    assert all(d.isoweekday() >= 6 for d in rs.calendar.workdays)


def test_cli_check_warns_when_the_calendar_runs_out(tmp_path):
    f = tmp_path / "r.yaml"
    base = SAMPLE.read_text(encoding="utf-8")
    far = date.today().year + 2
    f.write_text(base.replace("2026-10-07]", f"2026-10-07, {far}-01-01]"), encoding="utf-8")
    res = CliRunner().invoke(app, ["rules", "check", str(f)])
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    past = tmp_path / "past.yaml"
    past.write_text(ONE_RULE_WITH_OLD_CALENDAR, encoding="utf-8")
    res = CliRunner().invoke(app, ["rules", "check", str(past)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[1].startswith(
        "warning: calendar: holidays are listed up to 2020 only: from 2021-01-01")


ONE_RULE_WITH_OLD_CALENDAR = """\
version: 1
rules:
  - {id: big, kind: threshold, severity: high, where: event.amount >= 100000, title: "大额"}
calendar: {holidays: [2020-10-01]}
"""


SAME_SECOND_TEST = """
  - name: a complaint and a transfer in the same second (the transfer applies first)
    customers: [{customer_id: c10, assets: "5000000", manager_id: m1}]
    events:
      - {event_id: e1, type: complaint, complaint_id: k1, customer_id: c10,
         ts: "2024-03-01T10:00:00+08:00", status: opened}
      - {event_id: e2, type: complaint, complaint_id: k2, customer_id: c10,
         ts: "2024-03-05T10:00:00+08:00", status: opened}
      - {event_id: e3, type: transaction, customer_id: c10, ts: "2024-03-05T10:00:00+08:00",
         kind: transfer_out, amount: "100000", counterparty_bank: CCB}
    expect:
      - {rule: complaint-then-transfer-out, customer: c10,
         evidence: {first_event_id: e1, gap_days: 4.0}}
      - {rule: complaint-sla, customer: c10, count: 2}  # k1 unanswered for 24 h, then 72 h
"""


def test_in_file_tests_apply_an_instants_events_in_the_workers_order(tmp_path):
    """Listed complaint first, but at one instant a worker applies transactions before
    complaints: the in-file test sees what production does."""
    base = SAMPLE.read_text(encoding="utf-8")
    f = tmp_path / "r.yaml"
    f.write_text(base[:base.index("\ntests:")] + "\ntests:" + SAME_SECOND_TEST,
                 encoding="utf-8")
    results = run_tests(load_rules(f))
    assert [(r.name, r.problems) for r in results if not r.ok] == []
