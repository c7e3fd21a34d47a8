"""The rule kinds, in one explicit dict: rules.yaml names a kind, never an import path."""

from __future__ import annotations

from alerting.rules import (
    deviation,
    inactivity,
    reactivation,
    repeated,
    sequence,
    sla,
    threshold,
    window,
)
from alerting.rules.common import RuleKind

KINDS: dict[str, RuleKind] = {
    "threshold": threshold,
    "deviation": deviation,
    "window": window,
    "reactivation": reactivation,
    "inactivity": inactivity,
    "repeated": repeated,
    "sla": sla,
    "sequence": sequence,
}
