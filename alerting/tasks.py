"""The task: what a manager receives. Produced by the engine (status open), then owned by the
task lifecycle (routing, acknowledgement, escalation, resolution).

``task_id`` is deterministic: a hash of (rule id, customer id, the situation key the rule chose:
the triggering event id, the window start or the dormant spell). Replays and crash-restarts
therefore reproduce the same id. A task can be emitted again with a higher ``revision`` when a
further hit inside the cooldown adds evidence; sinks upsert by ``task_id`` and drop revisions they
have already seen (dedup key ``task_id:revision``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

SEVERITIES = ("info", "low", "medium", "high", "critical")
STATUSES = ("open", "acknowledged", "resolved")
OUTCOMES = ("contacted", "retained", "converted", "not_needed", "false_alarm")
MAX_EVENT_IDS = 50


def make_task_id(rule_id: str, customer_id: str, situation: str) -> str:
    """Deterministic task id: 't-' + 20 hex chars of sha256(rule|customer|situation)."""
    h = hashlib.sha256(f"{rule_id}\x1f{customer_id}\x1f{situation}".encode()).hexdigest()
    return "t-" + h[:20]


@dataclass(slots=True)
class Task:
    """A unit of work for a manager, with the reason and the numbers."""

    task_id: str
    rule_id: str
    severity: str
    customer_id: str
    title: str
    body: str
    evidence: dict[str, Any]  # JSON-safe: money as decimal strings, times as ISO strings
    event_ids: list[str]
    created_at: str  # event time, ISO-8601 with offset
    due_at: str
    created_ms: int = 0  # epoch ms of created_at (for sorting and clocks)
    due_ms: int = 0
    revision: int = 0  # 0 = first emission; +1 for each evidence update within the cooldown
    updated_at: str | None = None
    assignee_id: str | None = None
    assignee_role: str | None = None
    escalation_level: int = 0  # 0 = the owner; 1 = the owner's supervisor; ...
    branch_id: str | None = None
    customer_tier: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "open"
    outcome: str | None = None
    note: str | None = None
    acknowledged_at: str | None = None
    resolved_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    # epoch ms when an unacknowledged task escalates next (routing sets it; None = no clock)
    escalate_at_ms: int | None = None
    # other locales' rendering: {"en": {"title": ..., "body": ...}}
    translations: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        """Key under which a sink records that this emission was delivered."""
        return f"{self.task_id}:{self.revision}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with a stable key order."""
        return {name: getattr(self, name) for name in _FIELDS}

    def to_json(self) -> bytes:
        """Canonical JSON bytes (sorted keys): identical inputs give identical bytes."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """Inverse of ``to_dict``; unknown keys are ignored so old readers accept new tasks."""
        return cls(**{k: v for k, v in d.items() if k in _FIELD_SET})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Task:
        """Inverse of ``to_json``."""
        return cls.from_dict(orjson.loads(raw))


_FIELDS = tuple(Task.__dataclass_fields__)
_FIELD_SET = frozenset(_FIELDS)
