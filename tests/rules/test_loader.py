"""``load_rules`` / ``alerting rules check``: every problem named by rule id, field and line."""

from __future__ import annotations

import textwrap

import pytest

from alerting.errors import RulesError
from alerting.rules.loader import load_rules

HEAD = """\
version: 1
tiers:
  - {name: key, min_assets: 200000, large_amount: 100000}
rules:
  - id: ok-rule
    kind: threshold
    where: event.amount >= 100
    title: fine
"""


def problems(rules_text: str) -> list:
    with pytest.raises(RulesError) as e:
        load_rules(HEAD + textwrap.indent(textwrap.dedent(rules_text), "  "))
    return e.value.problems


def one(rules_text: str):
    ps = problems(rules_text)
    assert len(ps) == 1, [p.render() for p in ps]
    return ps[0]


def test_bad_kind():
    p = one("""\
      - id: bad
        kind: thresold
        title: x
    """)
    assert (p.rule_id, p.field, p.line) == ("bad", "kind", 10)
    assert "thresold" in p.message and "threshold" in p.message


def test_unknown_field():
    p = one("""\
      - id: bad
        kind: threshold
        title: x
        wher: event.amount > 1
    """)
    assert (p.rule_id, p.field, p.line) == ("bad", "wher", 12)
    assert "unknown field" in p.message


def test_bad_duration():
    p = one("""\
      - id: bad
        kind: window
        window: 7 days
        having: agg.sum > 1
        title: x
    """)
    assert (p.rule_id, p.field, p.line) == ("bad", "window", 11)
    assert "duration" in p.message


def test_bad_expression_has_column():
    p = one("""\
      - id: bad
        kind: threshold
        where: event.amout >= 100
        title: x
    """)
    assert (p.rule_id, p.field, p.line) == ("bad", "where", 11)
    assert "amount" in p.message  # the suggestion


@pytest.mark.parametrize("expr", ["__import__('os').system('true')", "event.__class__",
                                  "[x for x in [1]]", "open('/etc/passwd')",
                                  "event.amount ** 99999"])
def test_hostile_expression_rejected_at_load(expr):
    p = one(f"""\
      - id: evil
        kind: threshold
        where: "{expr}"
        title: x
    """)
    assert (p.rule_id, p.field) == ("evil", "where")


def test_duplicate_id():
    p = one("""\
      - id: ok-rule
        kind: threshold
        title: again
    """)
    assert (p.rule_id, p.field, p.line) == ("ok-rule", "id", 9)
    assert "duplicate" in p.message


def test_yaml_syntax_error():
    with pytest.raises(RulesError) as e:
        load_rules(HEAD + "  - id: [unclosed\n    kind: threshold\n")
    p = e.value.problems[0]
    assert "YAML" in p.message and p.line is not None and p.line >= 9


def test_all_problems_listed_in_line_order():
    ps = problems("""\
      - id: a
        kind: threshold
        title: x
        cooldown: soon
      - id: b
        kind: sla
        title: x
        steps: [{after: 72h}, {after: 24h}]
      - id: c
        kind: sequence
        first: event.kind == "deposit"
        then: event.nope
        within: 1d
        title: x
    """)
    assert [(p.rule_id, p.field) for p in ps] == [("a", "cooldown"), ("b", "steps"),
                                                  ("c", "then")]
    assert [p.line for p in ps] == sorted(p.line for p in ps)


def test_top_level_errors():
    with pytest.raises(RulesError) as e:
        load_rules("version: 1\ndefaults: {timezone: Asia/Shanghai}\nrules: []\n")
    p = e.value.problems[0]
    assert (p.rule_id, p.field, p.line) == (None, "defaults.timezone", 2)


def test_bad_template():
    p = one("""\
      - id: bad
        kind: threshold
        title: "{{ amount|money"
    """)
    assert (p.rule_id, p.field) == ("bad", "title")


def test_render_format(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text(HEAD + "  - id: x\n    kind: nope\n    title: t\n")
    with pytest.raises(RulesError) as e:
        load_rules(f)
    assert e.value.problems[0].render().startswith(f"{f}:10: rule 'x' field 'kind': ")


def test_fingerprints_ignore_presentation_but_see_tiers():
    a = load_rules(HEAD)
    b = load_rules(HEAD.replace("title: fine", "title: changed"))
    c = load_rules(HEAD.replace("event.amount >= 100", "event.amount >= tier_limit(customer)"))
    d = load_rules(HEAD.replace("event.amount >= 100", "event.amount >= tier_limit(customer)")
                   .replace("large_amount: 100000", "large_amount: 90000"))
    assert a.fingerprints["ok-rule"] == b.fingerprints["ok-rule"]
    assert c.fingerprints["ok-rule"] != d.fingerprints["ok-rule"]


def test_window_rule_errors_name_the_field_not_the_union_tag():
    # ``window`` is both the kind's name (pydantic's union tag) and a field of the rule
    p = one("""\
      - id: bad
        kind: window
        window: 7d
        aggregate: median
        having: agg.sum > 1
        title: x
    """)
    assert (p.rule_id, p.field, p.line) == ("bad", "aggregate", 12)
    p = one("""\
      - id: bad
        kind: window
        window: 7d
        bucket: 5d
        having: agg.sum > 1
        title: x
    """)
    assert (p.rule_id, p.field, p.line) == ("bad", "bucket", 12)
    assert "multiple of bucket" in p.message


def test_expression_error_names_the_column_once():
    p = one("""\
      - id: bad
        kind: threshold
        where: event.amount >= "x"
        title: x
    """)
    assert p.message.count("column") == 1, p.message


def test_window_templates_may_name_only_their_aggregates():
    p = one("""\
      - id: bad
        kind: window
        window: 1d
        aggregate: count
        having: agg.count > 1
        title: "{{ window_sum }}"
    """)
    assert (p.rule_id, p.field) == ("bad", "title")


def test_notifier_errors_name_the_field_not_the_notifier_type():
    text = ("version: 1\nrouting:\n  receivers:\n    - name: a\n      notifiers:\n"
            "        - {type: webhook}\n        - {type: email, host: h, from: abc, prot: 1}\n")
    with pytest.raises(RulesError) as e:
        load_rules(text)
    got = [(p.field, p.line) for p in e.value.problems]
    assert got == [("routing.receivers[0].notifiers[0].url", 6),
                   ("routing.receivers[0].notifiers[1].prot", 7)]
