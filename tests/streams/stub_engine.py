"""A small engine implementing the ``Engine`` protocol of docs/DESIGN.md, so the Kafka adapter is
tested on its own (the real engine is checked end to end in test_e2e.py). It is deliberately
stateful in a way that exposes adapter bugs: each task body carries the customer's event count
(double counting on a replay changes the body), and a 30-day inactivity timer fires from
``advance`` (timers without events).
"""

from __future__ import annotations

from typing import Any

import orjson

from alerting.directory import Directory
from alerting.errors import BadEvent
from alerting.models import Complaint, CustomerUpdate, Transaction, Watermark
from alerting.money import format_money
from alerting.tasks import Task, make_task_id
from alerting.timeutil import DAY, HOUR, format_ts

BIG = 10_000_00
IDLE = 30 * DAY


class StubEngine:
    """Per-customer counters, a large-withdrawal rule and an inactivity timer."""

    def __init__(self, directory: Directory, late_grace_ms: int = HOUR) -> None:
        self.directory = directory
        self.grace = late_grace_ms
        self.state: dict[str, dict[str, Any]] = {}
        self.dirty: set[str] = set()
        self.wm = 0

    def process(self, ev: Any) -> list[Task]:
        if isinstance(ev, Watermark):
            return self.advance(ev.ts)
        if isinstance(ev, CustomerUpdate):
            self.directory.update_customer(ev.customer_id, ev.fields)
            return []
        st = self.state.setdefault(ev.customer_id, {"n": 0, "last": None, "ids": [],
                                                    "fired": None})
        if st["last"] is not None and ev.ts < st["last"] - self.grace:
            raise BadEvent("late_event", "event older than the customer's latest")
        if ev.event_id in st["ids"]:
            return []
        out = self._due(ev.customer_id, st, ev.ts)
        st["n"] += 1
        st["last"] = max(ev.ts, st["last"] or ev.ts)
        st["ids"] = (st["ids"] + [ev.event_id])[-20:]
        self.dirty.add(ev.customer_id)
        if isinstance(ev, Transaction) and ev.kind == "withdrawal" and ev.amount >= BIG:
            out.append(self._task("big", ev.customer_id, ev.event_id, ev.ts, st,
                                  {"amount": format_money(ev.amount)}, [ev.event_id]))
        if isinstance(ev, Complaint) and ev.status == "opened":
            out.append(self._task("complaint", ev.customer_id, ev.event_id, ev.ts, st, {},
                                  [ev.event_id]))
        return out

    def _due(self, cid: str, st: dict[str, Any], now: int) -> list[Task]:
        last = st["last"]
        if last is None or st["fired"] == last or last + IDLE > now:
            return []
        st["fired"] = last
        self.dirty.add(cid)
        return [self._task("idle", cid, str(last), last + IDLE, st, {}, [])]

    def advance(self, wm: int) -> list[Task]:
        self.wm = max(self.wm, wm)
        out: list[Task] = []
        for cid in sorted(self.state):
            out += self._due(cid, self.state[cid], wm)
        return out

    def _task(self, rule: str, cid: str, situation: str, ts: int, st: dict[str, Any],
              evidence: dict[str, Any], ids: list[str]) -> Task:
        c = self.directory.customer(cid)
        tier = c.tier if c is not None else None
        return Task(task_id=make_task_id(rule, cid, situation), rule_id=rule, severity="high",
                    customer_id=cid, title=rule, body=f"events so far: {st['n']}",
                    evidence=evidence, event_ids=ids, created_at=format_ts(ts),
                    due_at=format_ts(ts + DAY), created_ms=ts, due_ms=ts + DAY,
                    customer_tier=tier)

    def export_state(self, customer_ids: Any = None) -> dict[str, bytes]:
        ids = self.state if customer_ids is None else customer_ids
        return {c: orjson.dumps(self.state[c]) for c in ids if c in self.state}

    def import_state(self, state: dict[str, bytes]) -> None:
        for c, b in state.items():
            self.state[c] = orjson.loads(b)

    def dirty_customers(self) -> set[str]:
        return set(self.dirty)

    def clear_dirty(self) -> None:
        self.dirty.clear()

    def export_meta(self) -> bytes:
        return orjson.dumps({"wm": self.wm})

    def import_meta(self, meta: bytes) -> None:
        self.wm = orjson.loads(meta)["wm"]


def run_embedded(events: list[dict[str, Any]], directory: Directory, final_wm: int | None
                 ) -> list[Task]:
    """The reference: one StubEngine over all events in order, then a final advance."""
    from alerting.models import parse_event

    eng = StubEngine(directory)
    out: list[Task] = []
    for d in events:
        try:
            out += eng.process(parse_event(d))
        except BadEvent:
            continue
    if final_wm is not None:
        out += eng.advance(final_wm)
    return out
