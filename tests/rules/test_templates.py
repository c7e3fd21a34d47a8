"""Task templates: zh/en rendering, filters, missing values, validation and hostile templates."""

from __future__ import annotations

import time
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest

from alerting.directory import Customer
from alerting.errors import ExpressionError
from alerting.models import Transaction
from alerting.rules.templates import MAX_OUTPUT, Template, compile_template
from alerting.timeutil import DAY, HOUR, parse_ts

NAMES = {"event", "customer", "evidence", "rule", "agg"}


@pytest.fixture
def context() -> dict[str, Any]:
    ts, tz = parse_ts("2024-03-01T10:00:00+08:00")
    event = Transaction(event_id="e1", customer_id="c1", account_id="6222021234567890",
                        ts=ts, tz=tz, kind="withdrawal", amount=123_456_789, channel="counter")
    customer = Customer(customer_id="c1", name="张三", tier="vip", assets=1_000_000_00)
    return {"event": event, "customer": customer, "tz": tz,
            "evidence": {"amount": "1234567.89", "share": 0.512,
                         "dormant_ms": 180 * DAY + 12 * HOUR},
            "rule": SimpleNamespace(id="large_withdrawal")}


def render(src: str, ctx: dict[str, Any], **kw: Any) -> str:
    return compile_template(src, allowed_names=NAMES | {"tz"}, **kw).render(ctx)


def test_render_zh_and_en(context):
    zh = ("客户 {{ customer.name|mask }} 于 {{ event.ts|datetime }} 在柜台取款 "
          "{{ event.amount|money }} 元（账户 {{ event.account_id|mask }}）")
    assert render(zh, context) == (
        "客户 张* 于 2024-03-01 10:00 在柜台取款 1,234,567.89 元（账户 6222********7890）")
    en = ("{{ customer.name|mask }} withdrew CNY {{ event.amount|money }} on "
          "{{ event.ts|date }}{% if customer.tier == 'vip' %} (VIP){% endif %}")
    assert render(en, context) == "张* withdrew CNY 1,234,567.89 on 2024-03-01 (VIP)"


def test_loops_conditions_and_builtin_filters(context):
    src = ("{% for k in ['a', 'b'] %}{{ loop.index }}{{ k|upper }}{% if not loop.last %},"
           "{% endif %}{% endfor %} {{ rule.id|replace_me|default('x') if false else "
           "rule.id|title }} {{ [3, 1, 2]|sort|join('-') }} "
           "{{ 'abcdef'|truncate(3, true, '', 0) }}")
    with pytest.raises(ExpressionError, match="filter 'replace_me'"):
        render(src, context)
    src = src.replace("rule.id|replace_me|default('x') if false else ", "")
    assert render(src, context) == "1A,2B Large_withdrawal 1-2-3 abc"


@pytest.mark.parametrize(("value", "expected"), [
    (123_456_789, "1,234,567.89"), (0, "0.00"), (5, "0.05"), (-150, "-1.50"),
    (Decimal("123456789"), "1,234,567.89"), (Fraction(1, 2), "0.01"), (Fraction(401, 3), "1.34"),
    ("200000.00", "200,000.00"), ("200000", "200,000.00"), (None, ""), ("n/a", "n/a"),
])
def test_money_filter(value, expected):
    assert compile_template("{{ v|money }}").render({"v": value}) == expected


def test_money_plain_pct_days(context):
    t = compile_template("{{ a|money_plain }} {{ r|pct }} {{ r|pct(0) }} {{ f|pct }} {{ d|days }}"
                         " {{ z|pct }}")
    ctx = {"a": 123_456_789, "r": 0.512, "f": Fraction(1, 3), "d": 90 * DAY + 12 * HOUR, "z": 1}
    assert t.render(ctx) == "1234567.89 51.2% 51% 33.3% 90.5 100.0%"
    assert t.render({}) == "     "  # every missing value renders empty


@pytest.mark.parametrize(("src", "ctx", "expected"), [
    ("{{ ts|datetime }}", {"ts": 1709258400000}, "2024-03-01 02:00"),  # no offset: UTC
    ("{{ ts|datetime }}", {"ts": 1709258400000, "tz": 480}, "2024-03-01 10:00"),
    ("{{ ts|datetime(-300) }}", {"ts": 1709258400000, "tz": 480}, "2024-02-29 21:00"),
    ("{{ ts|date }}", {"ts": 1709258400000, "tz": -600}, "2024-02-29"),
    ("{{ ts|datetime }}", {"ts": "2024-03-01T10:00:00+08:00"}, "2024-03-01 10:00"),
    ("{{ ts|datetime(0) }}", {"ts": "2024-03-01T10:00:00+08:00"}, "2024-03-01 02:00"),
    ("{{ ts|datetime }}", {"ts": "not a date"}, "not a date"),
    ("{{ ts|datetime }}", {}, ""),
])
def test_time_filters(src, ctx, expected):
    assert compile_template(src).render(ctx) == expected


def test_default_tz_of_template():
    t = compile_template("{{ ts|datetime }}", default_tz=480)
    assert t.render({"ts": 1709258400000}) == "2024-03-01 10:00"
    assert t.render({"ts": 1709258400000, "tz": 0}) == "2024-03-01 02:00"


@pytest.mark.parametrize(("value", "expected"), [
    ("张三", "张*"), ("张三丰", "张**"), ("李", "*"), ("John Smith", "J*** S****"),
    ("6222021234567890", "6222********7890"), ("6222 0212 3456 7890", "6222********7890"),
    (6222021234567890, "6222********7890"), ("12345", "***45"), ("12", "**"), (None, ""),
])
def test_mask_filter(value, expected):
    assert compile_template("{{ v|mask }}").render({"v": value}) == expected


def test_missing_values_render_empty(context):
    src = ("[{{ customer.missing }}|{{ nothing.at.all }}|{{ event.balance_after }}|"
           "{{ agg.sum|money }}]")
    assert compile_template(src).render(context) == "[|||]"
    assert render("{% if agg.count > 3 %}x{% endif %}ok", context) == "ok"
    src = ("{% if event.balance_after < 5 or 1 < agg.count <= 3 or agg.x in [1] or 'a' < 1 %}"
           "x{% elif agg.x not in [1] and agg.x != 1 and 1 < 2 <= 2 %}ok{% endif %}")
    assert render(src, context) == "ok"
    assert compile_template("[{{ (a + 1) * 2 }}|{{ -a }}]").render({}) == "[|]"


def test_output_is_capped():
    t = compile_template("{% for a in xs %}{% for b in xs %}{{ a }}-{{ b }};{% endfor %}"
                         "{% endfor %}")
    out = t.render({"xs": list(range(2000))})
    assert len(out) == MAX_OUTPUT and out.endswith("…")
    assert len(compile_template("{{ s }}", max_output=10).render({"s": "x" * 50})) == 10


def test_validation_errors():
    with pytest.raises(ExpressionError, match="syntax error at line 2"):
        compile_template("ok\n{{ event.amount | }}")
    with pytest.raises(ExpressionError, match="unknown name 'custmer' in template; did you mean "
                                              "customer"):
        compile_template("{{ custmer.name }}", allowed_names=NAMES)
    with pytest.raises(ExpressionError, match="filter 'nope'"):
        compile_template("{{ x|nope }}")
    with pytest.raises(ExpressionError, match="limit is 20000"):
        compile_template("x" * 20001)
    loop_vars = compile_template("{% for x in evidence.ids %}{{ x }}{{ loop.index }}{% endfor %}",
                                 allowed_names=NAMES)
    assert loop_vars.names == frozenset({"evidence"})
    assert isinstance(loop_vars, Template)


HOSTILE = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x.__class__.__init__.__globals__ }}",
    "{{ x._private }}",
    "{{ x['__class__'] }}",
    "{{ x[y] }}",
    "{{ x|attr('__class__') }}",
    "{{ x|map(attribute='__class__')|list }}",
    "{{ self }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__ }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in x %}{% for b in x %}{% for c in x %}{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in x recursive %}{{ loop(a) }}{% endfor %}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ '%999999999s' % 1 }}",
    "{{ x // 1 }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'x'|indent(999999999) }}",
    "{{ 'x'|format(1) }}",
    "{{ 'a'|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa') }}",
    "{% set x = 1 %}",
    "{% macro m() %}{% endmacro %}",
    "{% include 'x' %}",
    "{% import 'x' as y %}",
    "{% extends 'x' %}",
    "{% block b %}{% endblock %}",
    "{% with a = 1 %}{% endwith %}",
    "{% filter upper %}x{% endfilter %}",
    "{{ x.upper() }}",
    "{{ {'a': 1} }}",
    "{{ x[1:2] }}",
    "{{ x|sort(*y) }}",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
]


@pytest.mark.parametrize("src", HOSTILE)
def test_hostile_templates_are_rejected(src):
    with pytest.raises(ExpressionError):
        compile_template(src)


@pytest.mark.parametrize(("src", "ctx"), [
    ("{{ 'a' * 1000000000 }}", {}),
    ("{{ x * n }}", {"x": "ab", "n": 10**9}),
    ("{{ n * x }}", {"x": [1], "n": 10**9}),
    ("{{ 1 / 0 }}", {}),
    ("{{ config }}{{ request }}{{ os }}", {}),
    ("{{ x.mro }}", {"x": int}),
    ("{{ x.gi_frame }}", {"x": (i for i in [1])}),
])
def test_hostile_at_render_is_harmless(src, ctx):
    start = time.perf_counter()
    out = compile_template(src).render(ctx)
    assert len(out) <= MAX_OUTPUT
    assert "type" not in out or "template error" in out
    assert time.perf_counter() - start < 5  # a guard against a hang, not a speed check


def test_render_error_is_reported_not_raised():
    out = compile_template("before {{ 1 / 0 }}").render({})
    assert out.startswith("before") and "[template error: ZeroDivisionError]" in out


def test_autoescape_is_off():
    assert compile_template("{{ s }}").render({"s": "<b>&</b>"}) == "<b>&</b>"
