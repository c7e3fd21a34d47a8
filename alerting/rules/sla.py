"""``sla`` (absence): a complaint opened and not resolved within escalation steps.

Each step fires one task when the complaint is still open ``after`` its opening (steps strictly
increasing), with the step's severity and, if given, owned by ``escalate_to`` (the nearest
manager of that role above the customer's manager). A ``resolved`` complaint event stops the
clock. Timers fire on the customer's next event or on ``Engine.advance``; ``created_at`` is
exactly ``opened + after`` in ``defaults.timezone``. ``where`` filters the ``opened`` events.
At most 20 open complaints are tracked per customer (the oldest is dropped).

Example::

    - id: complaint-sla
      kind: sla
      where: event.type == "complaint"
      steps:
        - {after: 24h, severity: medium}
        - {after: 72h, severity: high, escalate_to: supervisor}
        - {after: 7d, severity: critical, escalate_to: branch_vp}
      title: "投诉 {{ complaint_id }} 已 {{ age_hours }} 小时未解决"

Evidence: ``complaint_id``, ``category``, ``opened_at``, ``age_hours``, ``step``, ``steps``.
Situation key: the complaint id and the step number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerting.models import MANAGER_ROLES
from alerting.rules.common import CompiledRule, Duration, Role, RuleSpec, Severity
from alerting.timeutil import HOUR

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled

MAX_OPEN = 20


class SlaStep(BaseModel):
    """One escalation step."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    after: Duration
    severity: Severity | None = None
    escalate_to: Role | None = None


class SlaSpec(RuleSpec):
    """Complaint not resolved in time."""

    default_cooldown: ClassVar[int] = 0
    kind: Literal["sla"]
    steps: list[SlaStep] = Field(min_length=1, max_length=8)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[SlaStep]) -> list[SlaStep]:
        prev = 0
        for i, step in enumerate(steps):
            if step.after <= prev:
                raise ValueError(f"steps[{i}].after must be greater than the previous step's "
                                 "(T1 < T2 < T3 …) and positive")
            prev = step.after
        return steps


class SlaRule(CompiledRule):
    """State per customer: flat ``[complaint_id, opened_ts, next_step, category, ...]``."""

    kind: ClassVar[str] = "sla"
    has_timer: ClassVar[bool] = True
    evidence_keys: ClassVar[frozenset[str]] = frozenset(
        {"complaint_id", "category", "opened_at", "age_hours", "step", "steps"})

    def __init__(self, spec: SlaSpec, index: int, where: Compiled, cooldown_ms: int) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.steps = spec.steps
        self.afters = [s.after for s in spec.steps]

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        return [("complaint", None)]

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        st = cs.rs[self.index]
        if ev.status == "opened":
            if st is not None and ev.complaint_id in st[0::4]:
                return
            if not self.where_fn(ev, cust, None):
                return
            if st is None:
                st = cs.rs[self.index] = []
            st.extend((ev.complaint_id, ev.ts, 0, ev.category))
            if len(st) > 4 * MAX_OPEN:
                del st[:4]
            eng.reschedule(cs)  # the new complaint may be due before the current timer
        elif ev.status == "resolved" and st is not None:
            ids = st[0::4]
            if ev.complaint_id in ids:
                i = 4 * ids.index(ev.complaint_id)
                del st[i:i + 4]  # its timer, if next, now fires as a no-op and reschedules
                if not st:
                    cs.rs[self.index] = None

    def next_due(self, cs: CustomerState) -> int | None:
        st = cs.rs[self.index]
        if not st:
            return None
        return min(st[i + 1] + self.afters[st[i + 2]] for i in range(0, len(st), 4)
                   if st[i + 2] < len(self.afters))

    def on_timer(self, eng: Engine, cs: CustomerState, now: int, cust: Any) -> None:
        st = cs.rs[self.index]
        if not st:
            return
        fired: list[tuple[int, int, int]] = []
        for i in range(0, len(st), 4):
            while st[i + 2] < len(self.afters) and st[i + 1] + self.afters[st[i + 2]] <= now:
                fired.append((st[i + 1] + self.afters[st[i + 2]], i, st[i + 2]))
                st[i + 2] += 1
        for due, i, k in sorted(fired):
            self._fire(eng, cs, cust, st[i], st[i + 1], st[i + 3], k, due)
        kept = [x for i in range(0, len(st), 4) if st[i + 2] < len(self.afters)
                for x in st[i:i + 4]]
        cs.rs[self.index] = kept or None

    def _fire(self, eng: Engine, cs: CustomerState, cust: Any, cid: str, opened: int,
              category: str, k: int, due: int) -> None:
        step = self.steps[k]
        level = MANAGER_ROLES.index(step.escalate_to) if step.escalate_to else 0
        evidence = {"complaint_id": cid, "category": category, "opened_at": opened,
                    "age_hours": (due - opened) // HOUR, "step": k + 1,
                    "steps": len(self.steps)}
        eng.emit(self, cs, cust, situation=f"{cid}:{k + 1}", ts=due, tz=eng.default_tz,
                 evidence=evidence, event_ids=(), severity=step.severity,
                 owner_role=step.escalate_to, level=level)


def compile_rule(spec: SlaSpec, index: int, ctx: Any) -> SlaRule:
    """Compile an SLA rule."""
    where = ctx.compile_expr("where", spec.where, roots=("event", "customer"))
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return SlaRule(spec, index, where, cooldown)


SPEC = SlaSpec
