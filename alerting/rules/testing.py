"""In-file rule tests (promtool style): ``tests:`` in rules.yaml gives customers, events, an
optional ``advance_to`` watermark and the exact tasks expected. Each test runs on a fresh
``Engine`` with the customers seeded; all tasks must be expected (``expect: []`` = none).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from alerting.directory import Directory, customer_from_dict
from alerting.errors import AlertingError
from alerting.models import Event, in_instant_order, parse_event
from alerting.rules.loader import RuleSet
from alerting.rules.spec import ExpectSpec, TestSpec
from alerting.tasks import Task
from alerting.timeutil import parse_ts


@dataclass
class TestResult:
    """Outcome of one in-file test: ``problems`` is empty when it passed."""

    __test__ = False
    name: str
    problems: list[str] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every expectation held and nothing unexpected fired."""
        return not self.problems


def run_tests(ruleset: RuleSet) -> list[TestResult]:
    """Run every test of the rules file."""
    return [run_test(ruleset, t) for t in ruleset.tests]


def run_test(ruleset: RuleSet, test: TestSpec) -> TestResult:
    """Run one test on a fresh engine."""
    from alerting.engine import Engine

    result = TestResult(test.name)
    try:
        directory = Directory()
        for raw in test.customers:
            directory.put_customer(customer_from_dict(raw))
        engine = Engine(ruleset, directory)
        engine.seed(directory.customers.values())
        emitted: list[Task] = []
        parsed: list[tuple[int, Event]] = []
        for i, raw in enumerate(test.events):
            try:
                parsed.append((i, parse_event(raw)))
            except AlertingError as e:
                result.problems.append(f"event #{i + 1}: {e}")
        # events of one instant in the order a worker applies them (models.INSTANT_RANK)
        for i, ev in in_instant_order(parsed, lambda p: p[1]):
            try:
                emitted += engine.process(ev)
            except AlertingError as e:
                result.problems.append(f"event #{i + 1}: {e}")
        if test.advance_to is not None:
            emitted += engine.advance(parse_ts(test.advance_to, field="advance_to")[0])
    except AlertingError as e:
        result.problems.append(f"cannot run: {e}")
        return result
    latest: dict[str, Task] = {}
    for t in emitted:
        latest[t.task_id] = t  # the last revision of each task
    result.tasks = list(latest.values())
    result.problems += compare(test.expect, result.tasks)
    return result


def compare(expect: list[ExpectSpec], tasks: list[Task]) -> list[str]:
    """Differences between the expected and the produced tasks, one line each."""
    got: dict[tuple[str, str], list[Task]] = defaultdict(list)
    for t in tasks:
        got[(t.rule_id, t.customer_id)].append(t)
    problems: list[str] = []
    for e in expect:
        have = got.pop((e.rule, e.customer), [])
        if len(have) != e.count:
            problems.append(f"- expected {e.count} task(s) of rule {e.rule!r} for customer "
                            f"{e.customer!r}, got {len(have)}")
        if e.evidence and have and not any(_subset(e.evidence, t.evidence) for t in have):
            problems.append(f"- rule {e.rule!r} customer {e.customer!r}: evidence "
                            f"{_show(e.evidence)} not found in "
                            + "; ".join(_show(_pick(t.evidence, e.evidence)) for t in have))
    for (rule, cust), have in sorted(got.items()):
        problems.append(f"+ unexpected {len(have)} task(s) of rule {rule!r} for customer "
                        f"{cust!r}: {have[0].title}")
    return problems


def _subset(want: dict[str, Any], have: dict[str, Any]) -> bool:
    return all(k in have and _same(v, have[k]) for k, v in want.items())


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, list) and isinstance(have, list):
        return len(want) == len(have) and all(_same(a, b) for a, b in zip(want, have,
                                                                             strict=True))
    if isinstance(want, int | float) and isinstance(have, int | float) \
            and not isinstance(want, bool):
        return want == have
    return str(want) == str(have)


def _pick(have: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    return {k: have.get(k) for k in want}


def _show(d: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in d.items()) + "}"
