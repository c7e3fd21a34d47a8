"""``threshold``: one event matches a condition (large withdrawal, tier-dependent limits).

Example::

    - id: large-withdrawal
      kind: threshold
      severity: high
      where: event.kind == "withdrawal" and event.amount >= tier_limit(customer)
      limit: tier_limit(customer)          # optional: shown as evidence ``limit``
      title: {zh: "大额取款 {{ amount|money }} 元", en: "Large withdrawal {{ amount|money }}"}

Evidence: ``amount`` (transactions), ``limit`` (the ``limit`` expression, or the customer's tier
``large_amount``), ``tier``, ``kind``, ``channel``. Situation key: the triggering event id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from alerting.rules.common import CompileContext, CompiledRule, RuleSpec, triggers_of

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled


class ThresholdSpec(RuleSpec):
    """A single event matching ``where``."""

    default_cooldown: ClassVar[int] = 86_400_000
    kind: Literal["threshold"]
    limit: str | None = None

    def expressions(self) -> dict[str, str]:
        out = super().expressions()
        if self.limit is not None:
            out["limit"] = self.limit
        return out


class ThresholdRule(CompiledRule):
    """Runtime of a threshold rule: stateless apart from the cooldown."""

    kind: ClassVar[str] = "threshold"
    stateful: ClassVar[bool] = False
    evidence_keys: ClassVar[frozenset[str]] = frozenset(
        {"amount", "limit", "tier", "kind", "channel", "category", "status"})

    def __init__(self, spec: ThresholdSpec, index: int, where: Compiled, cooldown_ms: int,
                 limit: Compiled | None) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.limit = limit

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        return triggers_of(self.where)

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        if not self.where_fn(ev, cust, None):
            return
        tier = eng.tier_of(cust)
        ev_data: dict[str, Any] = {"tier": tier.name if tier else None}
        if ev.type == "transaction":
            ev_data.update(amount=ev.amount, kind=ev.kind, channel=ev.channel)
            if self.limit is not None:
                ev_data["limit"] = self.limit.fn(ev, cust, None)
            elif tier is not None and tier.large_amount is not None:
                ev_data["limit"] = tier.large_amount
        else:
            ev_data.update(category=ev.category, status=ev.status)
        eng.emit(self, cs, cust, situation=ev.event_id, ts=ev.ts, tz=ev.tz,
                 evidence=ev_data, event_ids=(ev.event_id,), event=ev)


def compile_rule(spec: ThresholdSpec, index: int, ctx: CompileContext) -> ThresholdRule:
    """Compile a threshold rule."""
    from alerting.rules.expr import T

    where = ctx.compile_expr("where", spec.where, roots=("event", "customer"))
    limit = (ctx.compile_expr("limit", spec.limit, roots=("event", "customer"), expect=T.MONEY)
             if spec.limit is not None else None)
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return ThresholdRule(spec, index, where, cooldown, limit)
SPEC = ThresholdSpec
