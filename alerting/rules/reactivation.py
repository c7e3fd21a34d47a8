"""``reactivation``: a dormant customer wakes up.

Fires on the first customer-initiated activity (see ``activity:`` in rules.yaml: by default
every transaction kind except interest and fee, plus complaints) after at least ``dormant_for``
without any. The last activity is seeded from the directory's ``last_activity_at`` at go-live.

Example::

    - id: dormant-wakes-up
      kind: reactivation
      dormant_for: 180d
      where: event.type == "transaction"
      title: "睡眠客户 {{ days_dormant }} 天后恢复交易"

Evidence: ``days_dormant``, ``last_activity_at``, ``event_at``, ``amount``, ``kind``,
``channel``. Situation key: the waking event id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import model_validator

from alerting.rules.common import CompiledRule, Duration, RuleSpec, event_types
from alerting.timeutil import DAY

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled


class ReactivationSpec(RuleSpec):
    """First activity after a dormant spell."""

    default_cooldown: ClassVar[int] = 30 * DAY
    kind: Literal["reactivation"]
    dormant_for: Duration

    @model_validator(mode="after")
    def _positive(self) -> ReactivationSpec:
        if self.dormant_for <= 0:
            raise ValueError("dormant_for must be positive")
        return self


class ReactivationRule(CompiledRule):
    """Stateless: reads the customer's last activity, which the engine keeps."""

    kind: ClassVar[str] = "reactivation"
    stateful: ClassVar[bool] = False
    uses_activity: ClassVar[bool] = True
    evidence_keys: ClassVar[frozenset[str]] = frozenset(
        {"days_dormant", "last_activity_at", "event_at", "amount", "kind", "channel"})

    def __init__(self, spec: ReactivationSpec, index: int, where: Compiled,
                 cooldown_ms: int) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.dormant_for = spec.dormant_for
        self.types = event_types(where)

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        return []  # not indexed: the engine calls it for activity after a long silence

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        """Called by the engine only for activity events (``activity:``)."""
        last = cs.last_act
        if last is None or ev.ts - last < self.dormant_for or ev.type not in self.types:
            return
        if not self.where_fn(ev, cust, None):
            return
        evidence: dict[str, Any] = {"days_dormant": (ev.ts - last) // DAY,
                                    "last_activity_at": last, "event_at": ev.ts}
        if ev.type == "transaction":
            evidence.update(amount=ev.amount, kind=ev.kind, channel=ev.channel)
        eng.emit(self, cs, cust, situation=ev.event_id, ts=ev.ts, tz=ev.tz, evidence=evidence,
                 event_ids=(ev.event_id,), event=ev)


def compile_rule(spec: ReactivationSpec, index: int, ctx: Any) -> ReactivationRule:
    """Compile a reactivation rule."""
    where = ctx.compile_expr("where", spec.where, roots=("event", "customer"))
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return ReactivationRule(spec, index, where, cooldown)


SPEC = ReactivationSpec
