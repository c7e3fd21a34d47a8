"""The rule engine: events and state in, tasks out. Pure and synchronous: no I/O, no wall clock;
all time comes from the events and from ``advance(watermark_ms)``.

>>> engine = Engine(load_rules("rules.yaml"), directory)
>>> tasks = engine.process(event)           # one event, in order per customer
>>> tasks += engine.advance(watermark_ms)   # inactivity / SLA timers due ≤ watermark

Per customer the engine keeps a small ``CustomerState`` (latest ts, last activity, next timer
and the crc32 of the last 4 event ids in one int64 array; one slot per stateful rule with plain
lists / arrays of ints and strings; the open task of each rule inside its cooldown): about
0.9 KB of Python heap per customer, 0.3 KB exported (bench/engine.py (d)).

Rules are indexed by (event type, transaction kind) so an event only meets the rules that can
match it; reactivation rules run only for activity after a long enough silence. Timers live in
an hourly wheel (bucket → customer ids), filed lazily: a customer moves to an earlier bucket at
once, to a later one only when its old bucket comes due (it then fires as a no-op and is filed
again), so activity costs no wheel operation.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any
from zlib import crc32

import orjson

from alerting.directory import UNKNOWN_CUSTOMER, Customer, DirectoryReader
from alerting.errors import BadEvent, ConfigError, StateError
from alerting.routing.assign import assign_owner
from alerting.rules.common import CompiledRule
from alerting.rules.loader import RuleSet
from alerting.state.customer import _NEVER, _NO, CustomerState, EngineStats
from alerting.tasks import MAX_EVENT_IDS, Task, make_task_id
from alerting.timeutil import HOUR

STATE_VERSION = 1
# Duplicate detection keeps the crc32 of the customer's last 4 event ids (32 bytes instead of
# ~300 for the strings). Only an event not newer than the customer's latest is checked, so a
# false match needs an out-of-order event whose id collides (≈ 1e-9): accepted.
SEEN_IDS = 4
WHEEL_MS = HOUR
Assigner = Callable[[Customer | None, str | None, DirectoryReader], tuple[str | None, str | None]]


class Engine:
    """Evaluates a ``RuleSet`` over a stream of events for the customers it is given."""

    def __init__(self, ruleset: RuleSet, directory: DirectoryReader, *,
                 assigner: Assigner = assign_owner, late_grace_ms: int | None = None) -> None:
        self.directory = directory
        self.assigner = assigner
        self._late_grace_override = late_grace_ms
        self.stats = EngineStats()
        self.watermark = -(2**62)
        self._states: dict[str, CustomerState] = {}
        # states marked ``dirty`` since the last ``clear_dirty`` (each once); a dropped
        # customer's state is unmarked but stays listed until then
        self._dirty: list[CustomerState] = []
        # bucket → customer ids; entries are never removed: a customer counts only in the bucket
        # named by its ``wb`` (moved or dropped customers leave stale entries behind)
        self._wheel: dict[int, list[str]] = {}
        self._wheel_keys: list[int] = []
        self._out: list[Task] = []
        customers = getattr(directory, "customers", None)
        # a plain Directory: read its dict directly (one call less per event)
        self._customer: Callable[[str], Customer | None] = (
            customers.get if isinstance(customers, dict) else directory.customer)
        self._install(ruleset)

    # -- rules -----------------------------------------------------------------------------
    def _install(self, ruleset: RuleSet) -> None:
        spec = ruleset.spec
        self.ruleset = ruleset
        self.rules = ruleset.rules
        self.resolver = ruleset.resolver
        self.defaults = spec.defaults
        self.default_tz = spec.defaults.tz_minutes
        self.locale = spec.defaults.locale
        self.late_grace = (self._late_grace_override if self._late_grace_override is not None
                           else spec.defaults.late_grace)
        act = spec.activity
        self._act_kinds = frozenset(act.transaction_kinds)
        self._act_channels = frozenset(act.channels) if act.channels is not None else None
        self._act_complaints = act.complaints
        self._act_by_kind = {k: True for k in self._act_kinds}
        self._timer_rules = [r for r in self.rules if r.has_timer]
        self._order = {r.id: r.order for r in self.rules}
        wake = [r for r in self.rules if r.kind == "reactivation"]
        self._wake_hooks = [r.on_event for r in wake]
        self._min_dormant = min((r.dormant_for for r in wake), default=_NEVER)  # type: ignore[attr-defined]
        self._slots = ruleset.slots
        self._index = _build_index(self.rules)
        self._txn_hooks = {k[1]: [r.on_event for r in rules]
                           for k, rules in self._index.items() if k[0] == "transaction"}
        cmp_rules = self._index.get(("complaint", ""))
        self._cmp_hooks = [r.on_event for r in cmp_rules] if cmp_rules else None

    def swap_rules(self, ruleset: RuleSet) -> None:
        """Hot reload: keep each rule's per-customer state where its fingerprint is unchanged,
        drop it for changed or removed rules, start empty for new ones."""
        old = {r.id: (r.index, r.fingerprint) for r in self.rules if r.stateful}
        keep: list[tuple[int, int]] = []  # (new index, old index)
        for r in ruleset.rules:
            prev = old.get(r.id) if r.stateful else None
            if prev is not None and prev[1] == r.fingerprint:
                keep.append((r.index, prev[0]))
        ids = {r.id for r in ruleset.rules}
        self._install(ruleset)
        n = self._slots
        for cs in self._states.values():
            rs = [None] * n
            for new_i, old_i in keep:
                rs[new_i] = cs.rs[old_i]
            cs.rs = rs
            if cs.cool:
                cs.cool = {k: v for k, v in cs.cool.items() if k in ids} or None
            self._reschedule(cs)

    # -- the hot path ----------------------------------------------------------------------
    def process(self, ev: Any) -> list[Task]:
        """Apply one event; return the tasks it creates or updates (may be empty).

        Raises ``BadEvent("late_event")`` (state unchanged) for an event older than the
        customer's latest by more than the late grace. A repeated event id is ignored."""
        t = ev.type
        if t == "transaction":
            kind = ev.kind
            hooks = self._txn_hooks.get(kind)
            act = self._act_by_kind.get(kind, False) if self._act_channels is None else (
                kind in self._act_kinds and ev.channel in self._act_channels)
        elif t == "complaint":
            hooks = self._cmp_hooks
            act = self._act_complaints
        elif t == "watermark":
            return self.advance(ev.ts)
        elif t == "customer":
            return self._profile(ev)
        else:
            raise BadEvent("bad_type", "the engine processes transactions and complaints")
        cid = ev.customer_id
        cust = self._customer(cid) or UNKNOWN_CUSTOMER
        cs = self._states.get(cid)
        ts = ev.ts
        if cs is None:
            cs = self._new_state(cid, cust)
        st = cs.t
        last_ts = st[0]
        crc = crc32(ev.event_id.encode())
        if ts <= last_ts and crc in st[5:]:
            # a replayed event carries its original ts, so only an event that is not newer
            # than the customer's latest can be one: in-order streams skip the scan
            self.stats.duplicates += 1
            return []
        if ts < last_ts - self.late_grace:
            self.stats.late += 1
            raise BadEvent("late_event", "event is older than the customer's latest event by "
                           "more than the late grace")
        self.stats.events += 1
        out = self._out = []
        if st[2] <= ts:
            self._fire_timers(cs, ts, cust)
        last_act = st[1]
        # reactivation rules run only for activity after a long enough silence (before the
        # other rules, all reading the state as it was before this event)
        if act and last_act != _NO and ts - last_act >= self._min_dormant:
            for hook in self._wake_hooks:
                hook(self, cs, ev, cust)
        if hooks is not None:
            for hook in hooks:
                hook(self, cs, ev, cust)
        pos = st[4]
        st[5 + pos] = crc
        st[4] = (pos + 1) & 3
        if ts > last_ts:
            st[0] = ts
        if act and ts > last_act:
            st[1] = ts
            # a later last activity only moves timers later: the stale (earlier) due fires
            # as a no-op and reschedules, so only a customer without a timer needs one now
            if st[2] == _NEVER and self._timer_rules:
                self._reschedule(cs)
        if not cs.dirty:
            cs.dirty = True
            self._dirty.append(cs)
        return out

    def is_activity(self, ev: Any) -> bool:
        """Does this event count as customer-initiated activity (``activity:``)?"""
        if ev.type == "transaction":
            return ev.kind in self._act_kinds and (
                self._act_channels is None or ev.channel in self._act_channels)
        return ev.type == "complaint" and self._act_complaints

    def tier_of(self, cust: Any) -> Any:
        """The customer's tier spec (or None)."""
        return self.resolver.of(cust)

    def _profile(self, ev: Any) -> list[Task]:
        update = getattr(self.directory, "update_customer", None)
        if update is not None:
            try:
                update(ev.customer_id, ev.fields)
            except (ValueError, TypeError, ConfigError) as e:
                # a bad profile update is dead-lettered like any bad event; no field values
                # in the message (personal data)
                raise BadEvent("bad_customer", f"customer update rejected "
                               f"({type(e).__name__})") from None
        self.stats.profile_updates += 1
        return []

    def _new_state(self, cid: str, cust: Any) -> CustomerState:
        if cust.customer_id == cid:
            cid = cust.customer_id  # share the directory's string instead of the event's copy
        cs = CustomerState(cid, self._slots, getattr(cust, "last_activity_at", None))
        self._states[cid] = cs
        if self._timer_rules:
            self._reschedule(cs)
        return cs

    def seed(self, customers: Iterable[Customer]) -> None:
        """Create state for customers not seen yet (go-live), so that inactivity timers run
        for customers who never produce an event. Each shard seeds only its own customers."""
        for c in customers:
            if c.customer_id not in self._states:
                self._mark(self._new_state(c.customer_id, c))

    # -- timers ----------------------------------------------------------------------------
    def advance(self, watermark_ms: int) -> list[Task]:
        """Fire every timer due ≤ watermark, in (due, customer, rule) order."""
        if watermark_ms > self.watermark:
            self.watermark = watermark_ms
        last_bucket = watermark_ms // WHEEL_MS
        if not self._wheel_keys or self._wheel_keys[0] > last_bucket:
            return []  # the usual tick: nothing due
        due: list[tuple[int, str]] = []
        refile: list[CustomerState] = []
        while self._wheel_keys and self._wheel_keys[0] <= last_bucket:
            b = heapq.heappop(self._wheel_keys)
            for cid in self._wheel.pop(b, ()):
                cs = self._states.get(cid)
                if cs is None or cs.wb != b:
                    continue
                cs.wb = None  # a second (stale) entry of the same customer is skipped
                if cs.due is None:
                    continue
                if cs.due <= watermark_ms:
                    due.append((cs.due, cid))
                else:
                    refile.append(cs)
        for cs in refile:
            self._file(cs)
        out: list[Task] = []
        for _, cid in sorted(due):
            cs = self._states[cid]
            self._out = []
            self._fire_timers(cs, watermark_ms, self.directory.customer(cid) or UNKNOWN_CUSTOMER)
            out.extend(self._out)
            self._mark(cs)
        if len(out) > 1:
            order = self._order
            out.sort(key=lambda t: (t.created_ms, t.customer_id, order.get(t.rule_id, 0)))
        self._out = []
        return out

    def _fire_timers(self, cs: CustomerState, now: int, cust: Any) -> None:
        start = len(self._out)
        for r in self._timer_rules:
            r.on_timer(self, cs, now, cust)
        self.stats.timers_fired += 1
        if len(self._out) - start > 1:
            order = self._order
            self._out[start:] = sorted(self._out[start:],
                                       key=lambda t: (t.created_ms, order.get(t.rule_id, 0)))
        self._reschedule(cs)

    def reschedule(self, cs: CustomerState) -> None:
        """Recompute a customer's next timer (rules call it when a timer may come earlier)."""
        self._reschedule(cs)

    def _reschedule(self, cs: CustomerState) -> None:
        due: int | None = None
        for r in self._timer_rules:
            d = r.next_due(cs)
            if d is not None and (due is None or d < due):
                due = d
        cs.due = due
        if due is not None and (cs.wb is None or due // WHEEL_MS < cs.wb):
            self._file(cs)

    def _file(self, cs: CustomerState) -> None:
        assert cs.due is not None
        b = cs.due // WHEEL_MS
        bucket = self._wheel.get(b)
        if bucket is None:
            bucket = self._wheel[b] = []
            heapq.heappush(self._wheel_keys, b)
        bucket.append(cs.cid)
        cs.wb = b

    # -- tasks -----------------------------------------------------------------------------
    def emit(self, rule: CompiledRule, cs: CustomerState, cust: Any, *, situation: str, ts: int,
             tz: int, evidence: dict[str, Any], event_ids: Iterable[str], event: Any = None,
             severity: str | None = None, owner_role: str | None = None,
             level: int = 0) -> None:
        """Called by rules when they fire: a new task, or (inside the cooldown) a new revision
        of the open one."""
        from alerting.rules.render import render_task

        self.stats.fired[rule.id] += 1
        task_id = make_task_id(rule.id, cs.cid, situation)
        cool = cs.cool.get(rule.id) if cs.cool else None
        if cool is not None and (ts < cool[0] or cool[1] == task_id):
            cool[2] += 1
            ids = cool[5]
            ids.extend(i for i in event_ids if i not in ids)
            del ids[:-MAX_EVENT_IDS]
            self.stats.suppressed[rule.id] += 1
            self.stats.tasks_updated += 1
            task = render_task(self, rule, cs, cust, cool[1], cool[2], cool[3], cool[4],
                               evidence, list(ids), event, severity, owner_role, level,
                               updated=(ts, tz))
        else:
            ids = list(event_ids)[-MAX_EVENT_IDS:]
            if rule.cooldown_ms > 0:
                if cs.cool is None:
                    cs.cool = {}
                cs.cool[rule.id] = [ts + rule.cooldown_ms, task_id, 0, ts, tz, list(ids)]
            self.stats.tasks_created += 1
            task = render_task(self, rule, cs, cust, task_id, 0, ts, tz, evidence, ids, event,
                               severity, owner_role, level)
        self._out.append(task)

    # -- state -----------------------------------------------------------------------------
    def _mark(self, cs: CustomerState) -> None:
        if not cs.dirty:
            cs.dirty = True
            self._dirty.append(cs)

    def dirty_customers(self) -> set[str]:
        """Customers whose state changed since the last ``clear_dirty``."""
        return {cs.cid for cs in self._dirty if cs.dirty}

    def clear_dirty(self) -> None:
        """Forget the dirty set (after a checkpoint)."""
        for cs in self._dirty:
            cs.dirty = False
        self._dirty.clear()

    def customer_ids(self) -> list[str]:
        """Customers held in state."""
        return list(self._states)

    def __len__(self) -> int:
        return len(self._states)

    def export_state(self, customer_ids: Iterable[str] | None = None) -> dict[str, bytes]:
        """Per-customer state as bytes (versioned JSON); None = every customer."""
        from alerting.state.codec import encode_customer

        ids = self._states.keys() if customer_ids is None else customer_ids
        out: dict[str, bytes] = {}
        for cid in ids:
            cs = self._states.get(cid)
            if cs is not None:
                out[cid] = encode_customer(cs, self.rules)
        return out

    def import_state(self, state: dict[str, bytes]) -> None:
        """Restore customers (replacing what is held for them) and rebuild their timers."""
        from alerting.state.codec import decode_customer

        for cid, raw in state.items():
            cs = decode_customer(cid, raw, self.rules)
            prev = self._states.get(cid)
            if prev is not None and prev.dirty:  # the customer stays dirty (as its id did)
                prev.dirty = False
                self._mark(cs)
            self._states[cid] = cs
            if self._timer_rules:
                self._reschedule(cs)

    def drop_customers(self, customer_ids: Iterable[str]) -> None:
        """Forget customers (a shard handed away)."""
        for cid in customer_ids:
            cs = self._states.pop(cid, None)
            if cs is not None:
                cs.dirty = False  # no longer dirty, though still listed until clear_dirty

    def export_meta(self) -> bytes:
        """Engine-level state (the watermark)."""
        return orjson.dumps({"v": STATE_VERSION, "watermark": self.watermark})

    def import_meta(self, raw: bytes) -> None:
        """Restore ``export_meta`` output."""
        try:
            d = orjson.loads(raw)
            if d.get("v") != STATE_VERSION:
                raise StateError(f"unsupported engine meta version {d.get('v')!r}")
            self.watermark = max(self.watermark, int(d["watermark"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise StateError("engine meta is not valid") from None


def _build_index(rules: list[CompiledRule]) -> dict[tuple[str, str], list[CompiledRule]]:
    from alerting.models import TRANSACTION_KINDS

    index: dict[tuple[str, str], list[CompiledRule]] = {}
    for r in rules:
        for t, kinds in r.triggers():
            keys = ([("transaction", k) for k in sorted(kinds or TRANSACTION_KINDS)]
                    if t == "transaction" else [("complaint", "")])
            for key in keys:
                lst = index.setdefault(key, [])
                if r not in lst:
                    lst.append(r)
    for lst in index.values():
        lst.sort(key=lambda r: r.order)
    return index

