"""Rule effectiveness: which rules are worth acting on, computed from the stored tasks.

A pure function over tasks (no I/O): the web page, the Prometheus gauges and
``alerting report`` all show the same numbers. Shares are over *resolved* tasks; a rule is
flagged when its false-alarm share is above a threshold once it has enough resolved tasks to
judge (default: more than 50 % with at least 5 resolved).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from alerting.errors import BadEvent
from alerting.metrics import Metrics
from alerting.tasks import OUTCOMES, Task
from alerting.timeutil import parse_ts

DEFAULT_FALSE_ALARM_THRESHOLD = 0.5
DEFAULT_MIN_RESOLVED = 5
POSITIVE_OUTCOMES = frozenset({"retained", "converted"})


@dataclass(slots=True, frozen=True)
class RuleEffectiveness:
    """One row of the effectiveness table. Times are seconds; shares are 0..1 or None."""

    rule_id: str
    created: int
    acknowledged: int
    resolved: int
    escalated: int
    ack_median_s: float | None
    ack_p90_s: float | None
    outcomes: dict[str, int] = field(default_factory=dict)
    positive_share: float | None = None  # retained + converted over resolved
    false_alarm_share: float | None = None
    flagged: bool = False

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (the API and ``alerting report --json``)."""
        return {
            "rule_id": self.rule_id, "created": self.created,
            "acknowledged": self.acknowledged, "resolved": self.resolved,
            "escalated": self.escalated, "ack_median_s": self.ack_median_s,
            "ack_p90_s": self.ack_p90_s, "outcomes": dict(self.outcomes),
            "positive_share": self.positive_share,
            "false_alarm_share": self.false_alarm_share, "flagged": self.flagged,
        }


def ack_seconds(task: Task) -> float | None:
    """Seconds from the task's creation to its acknowledgement, or None if never acknowledged.

    A task resolved without an explicit acknowledgement counts as acknowledged when resolved
    (resolving is the strongest form of acting on it). Negative spans (a task created in event
    time after the wall-clock acknowledgement, e.g. replayed history) are clamped to 0.
    """
    stamp = task.acknowledged_at or task.resolved_at
    if not stamp:
        return None
    try:
        at_ms, _ = parse_ts(stamp, field="acknowledged_at")
    except BadEvent:
        return None
    return max(0.0, (at_ms - task.created_ms) / 1000.0)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def compute_effectiveness(
    tasks: Iterable[Task],
    *,
    false_alarm_threshold: float = DEFAULT_FALSE_ALARM_THRESHOLD,
    min_resolved: int = DEFAULT_MIN_RESOLVED,
) -> list[RuleEffectiveness]:
    """Per-rule effectiveness rows, sorted by rule id."""
    by_rule: dict[str, list[Task]] = {}
    for t in tasks:
        by_rule.setdefault(t.rule_id, []).append(t)
    return [_row(rule_id, ts, false_alarm_threshold, min_resolved)
            for rule_id, ts in sorted(by_rule.items())]


def _row(rule_id: str, tasks: list[Task], threshold: float,
         min_resolved: int) -> RuleEffectiveness:
    acks = [s for s in (ack_seconds(t) for t in tasks) if s is not None]
    outcomes = dict.fromkeys(OUTCOMES, 0)
    resolved = 0
    for t in tasks:
        if t.status == "resolved":
            resolved += 1
            if t.outcome in outcomes:
                outcomes[t.outcome] += 1
    positive = sum(outcomes[o] for o in POSITIVE_OUTCOMES)
    pos_share = positive / resolved if resolved else None
    fa_share = outcomes["false_alarm"] / resolved if resolved else None
    flagged = fa_share is not None and resolved >= min_resolved and fa_share > threshold
    return RuleEffectiveness(
        rule_id=rule_id, created=len(tasks), acknowledged=len(acks), resolved=resolved,
        escalated=sum(1 for t in tasks if t.escalation_level > 0),
        ack_median_s=statistics.median(acks) if acks else None,
        ack_p90_s=percentile(acks, 0.9), outcomes=outcomes,
        positive_share=pos_share, false_alarm_share=fa_share, flagged=flagged)


def export_metrics(rows: Iterable[RuleEffectiveness], metrics: Metrics) -> None:
    """Publish the rows as Prometheus gauges (replacing the previous values, so rules that
    left the window or the rules file disappear instead of going stale)."""
    metrics.rule_outcomes.clear()
    metrics.rule_ack_quantile.clear()
    metrics.rule_flagged.clear()
    for r in rows:
        if r.resolved:
            for outcome, n in r.outcomes.items():
                metrics.rule_outcomes.labels(rule=r.rule_id, outcome=outcome).set(
                    n / r.resolved)
        for q, v in (("0.5", r.ack_median_s), ("0.9", r.ack_p90_s)):
            if v is not None:
                metrics.rule_ack_quantile.labels(rule=r.rule_id, quantile=q).set(v)
        metrics.rule_flagged.labels(rule=r.rule_id).set(1 if r.flagged else 0)


# --- rendering (shared by the effectiveness page and `alerting report`) ---------------

def fmt_share(value: float | None) -> str:
    """0.4567 -> '45.7 %'; None -> '–'."""
    return "–" if value is None else f"{value * 100:.1f} %"


def fmt_duration(seconds: float | None) -> str:
    """Seconds as a short human duration (45s, 12m, 3.5h, 2.0d)."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
