"""``repeated``: at least ``count`` matching events within ``window`` (e.g. complaints opened).

The window is inclusive at both ends: events at ``t - window`` and at ``t`` both count. Only the
matching events inside the window are kept (time, event id, complaint id), at most
``max(2 × count, 10)`` of them.

Example::

    - id: repeated-complaints
      kind: repeated
      where: event.type == "complaint" and event.status == "opened"
      count: 3
      window: 30d
      title: "30天内投诉 {{ count }} 次"

Evidence: ``count``, ``complaint_ids`` (or the event ids for transactions), ``window_start``,
``window_days``. Situation key: the first event id in the window when it first fired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from alerting.rules.common import CompiledRule, Duration, RuleSpec, triggers_of
from alerting.timeutil import DAY

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled


class RepeatedSpec(RuleSpec):
    """N occurrences within a window."""

    default_cooldown: ClassVar[int] = 30 * DAY
    kind: Literal["repeated"]
    count: int = Field(ge=2, le=1000)
    window: Duration

    @model_validator(mode="after")
    def _positive(self) -> RepeatedSpec:
        if self.window <= 0:
            raise ValueError("window must be positive")
        return self


class RepeatedRule(CompiledRule):
    """State per customer: flat ``[ts, event_id, ref, ts, event_id, ref, ...]`` in the window."""

    kind: ClassVar[str] = "repeated"
    evidence_keys: ClassVar[frozenset[str]] = frozenset(
        {"count", "complaint_ids", "window_start", "window_days", "category"})

    def __init__(self, spec: RepeatedSpec, index: int, where: Compiled,
                 cooldown_ms: int) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.count = spec.count
        self.window = spec.window
        self.cap = max(2 * spec.count, 10)

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        return triggers_of(self.where)

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        if not self.where_fn(ev, cust, None):
            return
        st = cs.rs[self.index]
        if st is None:
            st = cs.rs[self.index] = []
        ref = ev.complaint_id if ev.type == "complaint" else ev.event_id
        st.extend((ev.ts, ev.event_id, ref))
        newest = max(st[0::3])
        lo = newest - self.window
        keep = [i for i in range(0, len(st), 3) if st[i] >= lo][-self.cap:]
        st[:] = [x for i in keep for x in st[i:i + 3]]
        n = len(st) // 3
        if n < self.count:
            return
        refs = list(dict.fromkeys(st[2::3]))
        evidence: dict[str, Any] = {"count": n, "complaint_ids": refs,
                                    "window_start": min(st[0::3]),
                                    "window_days": round(self.window / DAY, 2)}
        if ev.type == "complaint":
            evidence["category"] = ev.category
        eng.emit(self, cs, cust, situation=st[1], ts=ev.ts, tz=ev.tz, evidence=evidence,
                 event_ids=tuple(st[1::3]), event=ev)


def compile_rule(spec: RepeatedSpec, index: int, ctx: Any) -> RepeatedRule:
    """Compile a repeated-occurrences rule."""
    where = ctx.compile_expr("where", spec.where, roots=("event", "customer"))
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return RepeatedRule(spec, index, where, cooldown)


SPEC = RepeatedSpec
