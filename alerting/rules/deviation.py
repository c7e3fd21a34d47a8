"""``deviation``: an amount far above the customer's own baseline.

Fires when ``value ≥ factor × mean`` or ``(value − mean) / std ≥ z`` over the customer's earlier
matching events, once at least ``min_history`` of them have been seen. The baseline is kept as
incremental statistics (count, sum, sum of squares in cents: exact), or exponentially decayed
with ``half_life``; it is updated *after* the evaluation, so an outlier does not dilute its own
baseline. With a zero standard deviation the z test never fires (the factor test still may).

Example::

    - id: withdrawal-vs-baseline
      kind: deviation
      where: event.kind == "withdrawal"
      factor: 3            # amount ≥ 3 × own trailing mean
      min_history: 5
      half_life: 90d       # optional: recent behaviour weighs more
      title: "取款 {{ amount|money }} 元，为平时的 {{ ratio }} 倍"

Evidence: ``amount``, ``baseline_mean``, ``baseline_std``, ``baseline_count``, ``factor``,
``z``, ``zscore``, ``ratio``. Situation key: the triggering event id.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from alerting.rules.common import CompileContext, CompiledRule, Duration, RuleSpec, triggers_of

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled


class DeviationSpec(RuleSpec):
    """Amount against the customer's own trailing mean / z-score."""

    default_cooldown: ClassVar[int] = 86_400_000
    kind: Literal["deviation"]
    value: str = "event.amount"
    factor: float | None = Field(default=None, gt=1)
    z: float | None = Field(default=None, gt=0)
    min_history: int = Field(default=5, ge=1, le=100_000)
    half_life: Duration | None = None

    @model_validator(mode="after")
    def _one_test(self) -> DeviationSpec:
        if self.factor is None and self.z is None:
            raise ValueError("give 'factor' (× trailing mean) or 'z' (z-score), or both")
        if self.half_life is not None and self.half_life <= 0:
            raise ValueError("half_life must be positive")
        return self

    def expressions(self) -> dict[str, str]:
        return {**super().expressions(), "value": self.value}


class DeviationRule(CompiledRule):
    """State per customer: ``[n, sum, sumsq]`` (ints) or, with a half-life,
    ``[n, weight, wsum, wsumsq, last_ts]`` (floats)."""

    kind: ClassVar[str] = "deviation"
    evidence_keys: ClassVar[frozenset[str]] = frozenset(
        {"amount", "baseline_mean", "baseline_std", "baseline_count", "factor", "z", "zscore",
         "ratio", "kind", "channel"})

    def __init__(self, spec: DeviationSpec, index: int, where: Compiled, cooldown_ms: int,
                 value: Compiled) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.value = value
        self.value_fn = value.fn
        self.plain_amount = spec.value.strip() == "event.amount"
        self.factor = Fraction(str(spec.factor)) if spec.factor is not None else None
        self.z = spec.z
        self.min_history = spec.min_history
        self.half_life = spec.half_life

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        return triggers_of(self.where, self.value)

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        if not self.where_fn(ev, cust, None):
            return
        x = ev.amount if self.plain_amount else self.value_fn(ev, cust, None)
        if x is None:
            return
        st = cs.rs[self.index]
        if st is None:
            st = cs.rs[self.index] = [0, 0.0, 0.0, 0.0, ev.ts] if self.half_life else [0, 0, 0]
        if self.half_life:
            self._decay(st, ev.ts)
        if st[0] >= self.min_history:
            self._evaluate(eng, cs, ev, cust, st, x)
        if self.half_life:
            st[0] += 1
            st[1] += 1.0
            st[2] += x
            st[3] += float(x) * x
        else:
            st[0] += 1
            st[1] += x
            st[2] += x * x

    def _decay(self, st: list[Any], ts: int) -> None:
        dt = ts - st[4]
        if dt > 0:
            k = 0.5 ** (dt / self.half_life) if self.half_life else 1.0
            st[1] *= k
            st[2] *= k
            st[3] *= k
            st[4] = ts

    def _stats(self, st: list[Any]) -> tuple[float, float]:
        """(mean, std) of the baseline, in cents."""
        if self.half_life:
            w, s, q = st[1], st[2], st[3]
            mean = s / w if w > 0 else 0.0
            var = max(q / w - mean * mean, 0.0) if w > 0 else 0.0
            return mean, math.sqrt(var)
        n, s, q = st[0], st[1], st[2]
        var_n2 = q * n - s * s  # n² × variance, exact in integers
        return s / n, math.sqrt(max(var_n2, 0)) / n

    def _factor_hit(self, st: list[Any], x: int, mean: float) -> bool:
        if self.factor is None:
            return False
        p, q = self.factor.numerator, self.factor.denominator
        if self.half_life:
            return mean > 0 and x * q >= p * mean
        # x ≥ factor × sum / n, exactly: x · n · q ≥ p · sum
        return st[1] > 0 and x * st[0] * q >= p * st[1]

    def _evaluate(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any,
                  st: list[Any], x: int) -> None:
        mean, std = self._stats(st)
        hit_f = self._factor_hit(st, x, mean)
        zscore = (x - mean) / std if std > 0 else None
        hit_z = self.z is not None and zscore is not None and zscore >= self.z
        if not (hit_f or hit_z):
            return
        evidence: dict[str, Any] = {
            "amount": x, "baseline_mean": round(mean), "baseline_std": round(std),
            "baseline_count": st[0],
            "factor": float(self.factor) if self.factor is not None else None, "z": self.z,
            "zscore": round(zscore, 2) if zscore is not None else None,
            "ratio": round(x / mean, 2) if mean > 0 else None,
        }
        if ev.type == "transaction":
            evidence.update(kind=ev.kind, channel=ev.channel)
        eng.emit(self, cs, cust, situation=ev.event_id, ts=ev.ts, tz=ev.tz, evidence=evidence,
                 event_ids=(ev.event_id,), event=ev)


def compile_rule(spec: DeviationSpec, index: int, ctx: CompileContext) -> DeviationRule:
    """Compile a deviation rule."""
    from alerting.rules.expr import T

    where = ctx.compile_expr("where", spec.where, roots=("event", "customer"))
    value = ctx.compile_expr("value", spec.value, roots=("event", "customer"), expect=T.MONEY)
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return DeviationRule(spec, index, where, cooldown, value)


SPEC = DeviationSpec
