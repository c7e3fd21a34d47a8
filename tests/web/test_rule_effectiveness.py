"""Rule effectiveness: the pure computation and its Prometheus gauges."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry
from web_seed import BASE_MS, TZ, make_task

from alerting.metrics import Metrics
from alerting.store.effectiveness import (
    ack_seconds,
    compute_effectiveness,
    export_metrics,
    percentile,
)
from alerting.tasks import Task
from alerting.timeutil import format_ts


def resolved(task: Task, outcome: str, after_s: int) -> Task:
    at = format_ts(task.created_ms + after_s * 1000, TZ)
    return replace(task, status="resolved", outcome=outcome, acknowledged_at=at, resolved_at=at)


def batch(rule: str, outcomes: list[str], open_n: int = 0) -> list[Task]:
    out = [resolved(make_task(rule, f"C{i}", f"s{i}", assignee="m1"), o, 60 * (i + 1))
           for i, o in enumerate(outcomes)]
    out += [make_task(rule, f"O{i}", f"o{i}", assignee="m1") for i in range(open_n)]
    return out


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(x) for x in range(1, 11)], 0.9) == 9.0
    assert percentile([float(x) for x in range(1, 11)], 0.5) == 5.0


def test_ack_seconds_uses_ack_then_resolve_and_clamps() -> None:
    t = make_task("r", "C1", "s", assignee="m1")
    assert ack_seconds(t) is None
    assert ack_seconds(replace(t, acknowledged_at=format_ts(BASE_MS + 90_000, TZ))) == 90.0
    assert ack_seconds(replace(t, resolved_at=format_ts(BASE_MS + 30_000, 0))) == 30.0
    assert ack_seconds(replace(t, acknowledged_at=format_ts(BASE_MS - 5_000, TZ))) == 0.0
    assert ack_seconds(replace(t, acknowledged_at="garbage")) is None


def test_counts_times_and_shares_per_rule() -> None:
    tasks = batch("a", ["retained", "converted", "false_alarm", "contacted"], open_n=2)
    tasks.append(replace(make_task("a", "X", "x", assignee="m1"), status="acknowledged",
                         acknowledged_at=format_ts(BASE_MS + 600_000, TZ), escalation_level=2))
    [row] = compute_effectiveness(tasks)
    assert (row.rule_id, row.created, row.acknowledged, row.resolved, row.escalated) == (
        "a", 7, 5, 4, 1)
    # ack times 60, 120, 180, 240, 600 s
    assert row.ack_median_s == 180.0
    assert row.ack_p90_s == 600.0
    assert row.positive_share == 0.5
    assert row.false_alarm_share == 0.25
    assert row.outcomes["contacted"] == 1 and row.outcomes["not_needed"] == 0
    assert not row.flagged


def test_flag_needs_share_above_threshold_and_enough_resolved() -> None:
    noisy = batch("noisy", ["false_alarm"] * 3 + ["retained"] * 2)  # 60 % of 5
    few = batch("few", ["false_alarm"] * 4)  # 100 % but only 4 resolved
    half = batch("half", ["false_alarm"] * 3 + ["retained"] * 3)  # exactly 50 %: not above
    rows = {r.rule_id: r for r in compute_effectiveness(noisy + few + half)}
    assert [r for r in rows] == ["few", "half", "noisy"]  # sorted by rule id
    assert rows["noisy"].flagged
    assert not rows["few"].flagged
    assert not rows["half"].flagged
    rows = {r.rule_id: r for r in compute_effectiveness(few, min_resolved=4,
                                                          false_alarm_threshold=0.9)}
    assert rows["few"].flagged


def test_rule_without_resolutions_has_no_shares() -> None:
    [row] = compute_effectiveness(batch("quiet", [], open_n=3))
    assert (row.created, row.resolved, row.positive_share, row.false_alarm_share) == (
        3, 0, None, None)
    assert row.ack_median_s is None and row.ack_p90_s is None


def test_export_metrics_sets_and_replaces_gauges() -> None:
    reg = CollectorRegistry()
    m = Metrics(reg)
    rows = compute_effectiveness(batch("noisy", ["false_alarm"] * 5) + batch("ok", ["retained"]))
    export_metrics(rows, m)
    assert reg.get_sample_value("alerting_rule_outcome_share",
                                {"rule": "noisy", "outcome": "false_alarm"}) == 1.0
    assert reg.get_sample_value("alerting_rule_false_alarm_flagged", {"rule": "noisy"}) == 1.0
    assert reg.get_sample_value("alerting_rule_false_alarm_flagged", {"rule": "ok"}) == 0.0
    assert reg.get_sample_value("alerting_rule_ack_time_seconds",
                                {"rule": "ok", "quantile": "0.5"}) == 60.0
    export_metrics(compute_effectiveness(batch("ok", ["retained"])), m)
    assert reg.get_sample_value("alerting_rule_false_alarm_flagged", {"rule": "noisy"}) is None
