"""``sequence``: event A (``first``) then event B (``then``) for the same customer within
``within`` (inclusive). The latest A is remembered; a B that arrives within ``within`` of it (and
matches ``where``) fires. An event may be a B for an earlier A and the A of a later pair.

Example::

    - id: complaint-then-transfer-out
      kind: sequence
      first: event.type == "complaint" and event.status == "opened"
      then: event.kind == "transfer_out" and event.counterparty_bank != null
      within: 14d
      title: "投诉后 {{ gap_days }} 天转出至他行 {{ then_amount|money }} 元"

Evidence: ``first_event_id``, ``first_at``, ``first_label``, ``then_event_id``, ``then_at``,
``then_amount``, ``counterparty_bank``, ``gap_hours``, ``gap_days``. Situation key: A's event id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import model_validator

from alerting.rules.common import CompiledRule, Duration, RuleSpec, event_types, triggers_of
from alerting.timeutil import DAY, HOUR

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled


class SequenceSpec(RuleSpec):
    """A then B within a time."""

    default_cooldown: ClassVar[int] = 14 * DAY
    kind: Literal["sequence"]
    first: str
    then: str
    within: Duration

    @model_validator(mode="after")
    def _positive(self) -> SequenceSpec:
        if self.within <= 0:
            raise ValueError("within must be positive")
        return self

    def expressions(self) -> dict[str, str]:
        return {**super().expressions(), "first": self.first, "then": self.then}


class SequenceRule(CompiledRule):
    """State per customer: ``[a_ts, a_event_id, a_label]`` of the latest A, or None."""

    kind: ClassVar[str] = "sequence"
    evidence_keys: ClassVar[frozenset[str]] = frozenset(
        {"first_event_id", "first_at", "first_label", "then_event_id", "then_at",
         "then_amount", "counterparty_bank", "gap_hours", "gap_days", "amount"})

    def __init__(self, spec: SequenceSpec, index: int, where: Compiled, cooldown_ms: int,
                 first: Compiled, then: Compiled) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.first_fn = first.fn
        self.then_fn = then.fn
        self.first = first
        self.then = then
        self.first_types = event_types(first)
        self.then_types = event_types(then) & event_types(where)
        self.within = spec.within

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        return sorted(set(triggers_of(self.first)) | set(triggers_of(self.then, self.where)),
                      key=lambda t: (t[0], sorted(t[1] or ())))

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        st = cs.rs[self.index]
        t = ev.type
        if st is not None:
            gap = ev.ts - st[0]
            if gap > self.within:
                st = cs.rs[self.index] = None
            elif (gap >= 0 and t in self.then_types and ev.event_id != st[1]
                  and self.then_fn(ev, cust, None) and self.where_fn(ev, cust, None)):
                self._fire(eng, cs, ev, cust, st, gap)
        if t in self.first_types and self.first_fn(ev, cust, None):
            label = ev.kind if t == "transaction" else f"complaint:{ev.status}"
            cs.rs[self.index] = [ev.ts, ev.event_id, label]

    def _fire(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any, st: list[Any],
              gap: int) -> None:
        evidence: dict[str, Any] = {
            "first_event_id": st[1], "first_at": st[0], "first_label": st[2],
            "then_event_id": ev.event_id, "then_at": ev.ts,
            "gap_hours": gap // HOUR, "gap_days": round(gap / DAY, 1)}
        if ev.type == "transaction":
            evidence.update(then_amount=ev.amount, amount=ev.amount,
                            counterparty_bank=ev.counterparty_bank)
        eng.emit(self, cs, cust, situation=st[1], ts=ev.ts, tz=ev.tz, evidence=evidence,
                 event_ids=(st[1], ev.event_id), event=ev)


def compile_rule(spec: SequenceSpec, index: int, ctx: Any) -> SequenceRule:
    """Compile a sequence rule."""
    where = ctx.compile_expr("where", spec.where, roots=("event", "customer"))
    first = ctx.compile_expr("first", spec.first, roots=("event", "customer"))
    then = ctx.compile_expr("then", spec.then, roots=("event", "customer"))
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return SequenceRule(spec, index, where, cooldown, first, then)


SPEC = SequenceSpec
