"""``inactivity``: no customer-initiated activity for ``after`` → one wake-up task per dormant
spell.

Fired by timers: when the customer's next event arrives, or when ``Engine.advance(watermark)``
passes ``last activity + after``. The task's ``created_at`` is exactly ``last activity + after``
(rendered in ``defaults.timezone``), so it does not depend on when the timer was noticed. It does
not fire again until the customer has been active again. ``where`` may only use ``customer``.

Example::

    - id: dormant-90d
      kind: inactivity
      after: 90d
      where: customer.assets >= 50000
      title: "客户已 {{ days_inactive }} 天无交易，请联系唤醒"

Evidence: ``days_inactive``, ``last_activity_at``. Situation key: the start of the spell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import model_validator

from alerting.rules.common import CompiledRule, Duration, RuleSpec
from alerting.timeutil import DAY

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled


class InactivitySpec(RuleSpec):
    """No activity for a while."""

    default_cooldown: ClassVar[int] = 0
    kind: Literal["inactivity"]
    after: Duration

    @model_validator(mode="after")
    def _positive(self) -> InactivitySpec:
        if self.after <= 0:
            raise ValueError("after must be positive")
        return self


class InactivityRule(CompiledRule):
    """State per customer: the last-activity time of the spell already reported (or None)."""

    kind: ClassVar[str] = "inactivity"
    has_timer: ClassVar[bool] = True
    uses_activity: ClassVar[bool] = True
    evidence_keys: ClassVar[frozenset[str]] = frozenset({"days_inactive", "last_activity_at"})

    def __init__(self, spec: InactivitySpec, index: int, where: Compiled,
                 cooldown_ms: int) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.after = spec.after

    def next_due(self, cs: CustomerState) -> int | None:
        last = cs.last_act
        if last is None or cs.rs[self.index] == last:
            return None
        return last + self.after

    def on_timer(self, eng: Engine, cs: CustomerState, now: int, cust: Any) -> None:
        last = cs.last_act
        if last is None or cs.rs[self.index] == last or last + self.after > now:
            return
        cs.rs[self.index] = last
        if not self.where_fn(None, cust, None):
            return
        due = last + self.after
        evidence = {"days_inactive": self.after // DAY, "last_activity_at": last}
        eng.emit(self, cs, cust, situation=f"spell:{last}", ts=due, tz=eng.default_tz,
                 evidence=evidence, event_ids=())


def compile_rule(spec: InactivitySpec, index: int, ctx: Any) -> InactivityRule:
    """Compile an inactivity rule."""
    where = ctx.compile_expr("where", spec.where, roots=("customer",))
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return InactivityRule(spec, index, where, cooldown)


SPEC = InactivitySpec
