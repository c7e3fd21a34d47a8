"""``window``: an aggregate (sum / count / max) of matching events over a sliding window.

The window is held as time buckets (``bucket``, default 1d for windows of two days or more,
else 1h), aligned to local time (``defaults.timezone``): a 7d window with 1d buckets covers the
current local day and the six before it. Sums are exact in cents. ``having`` is a condition over
``agg`` (``agg.sum``, ``agg.count``, ``agg.max``), the customer and the current event.

Example::

    - id: assets-leaving-7d
      kind: window
      where: event.kind in ["withdrawal", "transfer_out"]
      window: 7d
      aggregate: sum
      having: agg.sum >= 0.5 * customer.assets and customer.assets > 0
      title: "7天内流出 {{ window_sum|money }} 元，占资产 {{ share|pct }}"

Evidence: ``window_count``, ``window_sum`` and ``share`` (sum / assets, 4 decimals; not for
``count``), ``window_max`` (only for ``max``), ``window_start``, ``window_end``,
``window_days``, ``assets``, ``amount``; event ids: the previous matching event
and the current one (a task updated inside its cooldown accumulates them, up to 50).
Situation key: the bucket in which the window started to fire (one task per firing spell).
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from alerting.rules.common import CompiledRule, Duration, RuleSpec, triggers_of
from alerting.timeutil import DAY, HOUR

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled

MAX_BUCKETS = 400
_EMPTY = (-1, 0, 0)


class WindowSpec(RuleSpec):
    """Sliding-window aggregate per customer."""

    default_cooldown: ClassVar[int] = 7 * DAY
    kind: Literal["window"]
    window: Duration
    # validated even when absent: the default bucket may make too many buckets
    bucket: Duration | None = Field(None, validate_default=True)
    aggregate: Literal["sum", "count", "max"] = "sum"
    value: str = "event.amount"
    having: str

    # field validators, not a model validator, so that an error names the field and its line
    @field_validator("window")
    @classmethod
    def _window(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("window must be positive")
        return v

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: int | None, info: ValidationInfo) -> int | None:
        window = info.data.get("window")
        if window is None:  # the window itself is invalid (reported there)
            return v
        b = _bucket_ms(window, v)
        if b <= 0 or window % b:
            raise ValueError("window must be a whole multiple of bucket")
        if window // b > MAX_BUCKETS:
            raise ValueError(f"at most {MAX_BUCKETS} buckets per window: use a larger bucket")
        return v

    @property
    def bucket_ms(self) -> int:
        """The bucket size in ms (explicit, or 1d / 1h / the window itself)."""
        return _bucket_ms(self.window, self.bucket)

    def expressions(self) -> dict[str, str]:
        return {**super().expressions(), "value": self.value, "having": self.having}


def _bucket_ms(window: int, bucket: int | None) -> int:
    if bucket is not None:
        return bucket
    if window >= 2 * DAY and window % DAY == 0:
        return DAY
    if window >= 2 * HOUR and window % HOUR == 0:
        return HOUR
    return window


class Agg:
    """The ``agg`` root of ``having`` (reused, so evaluation allocates nothing)."""

    __slots__ = ("sum", "count", "max", "start", "end")

    def __init__(self) -> None:
        self.sum = 0
        self.count = 0
        self.max = 0
        self.start = 0
        self.end = 0


class WindowRule(CompiledRule):
    """State per customer: ``[last event id, array[firing_bucket, sum, count, b0, sum0, count0,
    (max0), b1, ...]]``: the id of the latest matching event and an int64 array (8 bytes a
    number, not a 28-byte int object) with buckets ascending and running totals over them
    (``max`` per bucket only for the max aggregate); ``firing_bucket`` is -1 while ``having``
    is false."""

    kind: ClassVar[str] = "window"
    evidence_keys: ClassVar[frozenset[str]] = frozenset(
        {"window_sum", "window_count", "window_max", "window_start", "window_end",
         "window_days", "assets", "share", "amount"})
    _NOT_FOR: ClassVar[dict[str, frozenset[str]]] = {
        "sum": frozenset({"window_max"}), "max": frozenset(),
        "count": frozenset({"window_sum", "window_max", "share"})}

    def __init__(self, spec: WindowSpec, index: int, where: Compiled, cooldown_ms: int,
                 value: Compiled, having: Compiled, tz_ms: int) -> None:
        super().__init__(spec, index, where, cooldown_ms)
        self.value = value
        self.value_fn = value.fn
        self.plain_amount = spec.value.strip() == "event.amount"
        self.count_only = spec.aggregate == "count"
        self.with_max = spec.aggregate == "max"
        self.stride = 4 if self.with_max else 3
        # templates may name only the evidence this aggregate produces (checked at load)
        self.evidence_keys = (  # type: ignore[misc]  # narrowed per rule, read by the loader
            WindowRule.evidence_keys - self._NOT_FOR[spec.aggregate])
        self.having_fn = having.fn
        # agg.start / agg.end are only computed per event if ``having`` reads them
        self.span_needed = bool({"agg.start", "agg.end"} & having.names)
        self.bucket = spec.bucket_ms
        self.n = spec.window // self.bucket
        self.window = spec.window
        self.tz_ms = tz_ms
        self.agg = Agg()
        self._k = (tz_ms, self.bucket, self.n, self.stride, self.with_max)

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        if self.count_only:  # counting never reads the value: complaints may be counted
            return triggers_of(self.where)
        return triggers_of(self.where, self.value)

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        if not self.where_fn(ev, cust, None):
            slot = cs.rs[self.index]
            if slot is not None:
                self._drop_if_expired(cs, slot, ev.ts)
            return
        if self.count_only:
            x = 1
        elif self.plain_amount:
            x = ev.amount
        else:
            v = self.value_fn(ev, cust, None)
            if v is None:
                return
            x = v if isinstance(v, int) else round(v)
        # the rule's constants in one tuple: one attribute load instead of five (hot path)
        tz_ms, bucket, n_win, stride, with_max = self._k
        index = self.index  # not in the tuple: the loader assigns it after construction
        rs = cs.rs
        slot = rs[index]
        if slot is None:
            slot = rs[index] = ["", array("q", _EMPTY)]
        st = slot[1]
        ts = ev.ts
        b = (ts + tz_ms) // bucket
        n = len(st)
        if n > 3:
            newest = st[n - stride]
            lo = (b if b > newest else newest) - n_win  # buckets ≤ lo have left the window
            if b <= lo:
                return  # an out-of-order event older than the whole window
            if st[3] <= lo:
                self._evict(st, lo)
                n = len(st)
        else:
            lo = b - n_win
        # ``_add``'s two usual cases written out (a new latest bucket, or the latest again)
        if n == 3 or st[n - stride] < b:
            st[1] += x
            st[2] += 1
            st.extend((b, x, 1, x) if with_max else (b, x, 1))
        elif st[n - stride] == b and not with_max:
            st[1] += x
            st[2] += 1
            st[n - 2] += x
            st[n - 1] += 1
        else:
            self._add(st, b, x)
        prev_id = slot[0]  # the previous matching event's id (evidence), then this one's
        slot[0] = ev.event_id
        agg = self.agg
        agg.sum = st[1]
        agg.count = st[2]
        if with_max:
            agg.max = max(st[6::4])
        if self.span_needed:
            agg.start = st[3] * bucket - tz_ms
            agg.end = ts
        if not self.having_fn(ev, cust, agg):
            st[0] = -1
            return
        if st[0] < 0 or st[0] <= lo:
            st[0] = b
        self._fire(eng, cs, ev, cust, st, (prev_id, ev.event_id) if prev_id else (ev.event_id,))

    def _drop_if_expired(self, cs: CustomerState, slot: Any, ts: int) -> None:
        """Free a window whose every bucket has left it (the customer's other events pass by
        here), so that one ATM spree does not hold memory for good."""
        st = slot[1]
        if len(st) <= 3 or st[-self.stride] <= (ts + self.tz_ms) // self.bucket - self.n:
            cs.rs[self.index] = None

    def _evict(self, st: array[int], lo: int) -> None:
        i, stride = 3, self.stride
        while i < len(st) and st[i] <= lo:
            st[1] -= st[i + 1]
            st[2] -= st[i + 2]
            i += stride
        del st[3:i]

    def _add(self, st: array[int], b: int, x: int) -> None:
        stride = self.stride
        st[1] += x
        st[2] += 1
        n = len(st)
        if n == 3 or st[n - stride] < b:  # the usual cases: a new latest bucket...
            st.extend((b, x, 1, x) if self.with_max else (b, x, 1))
            return
        if st[n - stride] == b and not self.with_max:  # ...or the latest one again
            st[n - stride + 1] += x
            st[n - stride + 2] += 1
            return
        i = n - stride
        while i >= 3 and st[i] > b:
            i -= stride
        if i >= 3 and st[i] == b:
            st[i + 1] += x
            st[i + 2] += 1
            if self.with_max and x > st[i + 3]:
                st[i + 3] = x
        elif i + stride == len(st):  # the usual case: a new latest bucket
            st.extend((b, x, 1, x) if self.with_max else (b, x, 1))
        else:
            j = max(i + stride, 3)
            st[j:j] = array("q", (b, x, 1, x) if self.with_max else (b, x, 1))

    def dump_state(self, slot: Any) -> Any:
        """JSON form of the state: ``[ids, [numbers]]``."""
        return [slot[0], slot[1].tolist()]

    def load_state(self, raw: Any) -> Any:
        """Inverse of ``dump_state``."""
        return [str(raw[0]), array("q", raw[1])]

    def _fire(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any, st: array[int],
              ids: tuple[str, ...]) -> None:
        agg = self.agg
        agg.start, agg.end = st[3] * self.bucket - self.tz_ms, ev.ts
        assets = getattr(cust, "assets", 0) or 0
        evidence: dict[str, Any] = {"window_count": agg.count}
        # only the aggregates the rule computes: a count window has no sum (its running total
        # counts events, not money) and only a max window keeps the per-bucket max
        if not self.count_only:
            evidence["window_sum"] = agg.sum
            evidence["share"] = round(agg.sum / assets, 4) if assets > 0 else None
        if self.with_max:
            evidence["window_max"] = agg.max
        evidence.update(window_start=agg.start, window_end=agg.end,
                        window_days=round(self.window / DAY, 2), assets=assets)
        if ev.type == "transaction":
            evidence["amount"] = ev.amount
        eng.emit(self, cs, cust, situation=f"b{st[0]}", ts=ev.ts, tz=ev.tz,
                 evidence=evidence, event_ids=ids, event=ev)


def compile_rule(spec: WindowSpec, index: int, ctx: Any) -> WindowRule:
    """Compile a window rule."""
    from alerting.rules.expr import T

    where = ctx.compile_expr("where", spec.where, roots=("event", "customer"))
    value = ctx.compile_expr("value", spec.value, roots=("event", "customer"), expect=T.MONEY)
    having = ctx.compile_expr("having", spec.having, roots=("event", "customer", "agg"))
    cooldown = spec.cooldown if spec.cooldown is not None else spec.default_cooldown
    return WindowRule(spec, index, where, cooldown, value, having, ctx.tz_ms)


SPEC = WindowSpec
