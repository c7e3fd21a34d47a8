"""Replaying history through the engine: the shared loop of ``alerting run`` and ``alerting
backtest``, and the backtest's pure summaries (tasks per rule, severity, manager and ISO week;
the per-manager daily load forecast; the difference between two rule sets).

The CLI only renders what is computed here; nothing in this module prints or reads the clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from alerting.directory import Directory
from alerting.errors import AlertingError, BadEvent
from alerting.io import (
    MAX_LINE_BYTES,
    DeadLetter,
    dead_letter_for,
    json_error_detail,
    raw_text,
)
from alerting.models import INSTANT_RANK, Event, fast_transaction, parse_event
from alerting.tasks import Task
from alerting.timeutil import DAY

TICK_MS = 15 * 60_000  # event time between timer sweeps: often enough for hour-scale timers


class EngineLike(Protocol):
    """What the replay needs from ``alerting.engine.Engine``."""

    def process(self, event: Event) -> list[Task]: ...

    def advance(self, watermark_ms: int) -> list[Task]: ...


def build_engine(rules_path: str | Path, directory: Directory) -> Any:
    """Load a rules file and build an engine over ``directory`` (raises ``RulesError``), seeded
    with every known customer so inactivity timers run for those who never transact."""
    from alerting.engine import Engine
    from alerting.rules.loader import load_rules

    engine = Engine(load_rules(rules_path), directory)
    engine.seed(sorted(directory.customers.values(), key=lambda c: c.customer_id))
    return engine


def copy_directory(d: Directory) -> Directory:
    """An independent directory (customer updates in one engine must not leak to another)."""
    return Directory(dict(d.customers), dict(d.managers))


@dataclass
class Replay:
    """Counters of one pass over an input, shared by all engines of that pass."""

    lines_ok: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    engine_errors: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    tz: int = 0  # offset of the first event, minutes: the forecast's calendar days

    @property
    def events_read(self) -> int:
        """Lines read: good plus dead-lettered."""
        return self.lines_ok + sum(self.dead_letters.values())


TaskSink = Callable[[int, Task], None]  # (engine index, task emission)


def replay(lines: Iterable[tuple[int, bytes]], engines: list[EngineLike],
           on_bad: Callable[[DeadLetter], None], on_task: TaskSink) -> Replay:
    """Feed numbered JSON lines to every engine in one pass; bad lines (and events an engine
    rejects, e.g. ``late_event``) go to ``on_bad`` and the pass continues. At the end every
    engine is advanced to the last event time so due timers fire.

    Events of one instant (consecutive lines with equal ``ts``) are applied together, once a
    line of another instant, the end or ``io.IDLE`` (a live input waiting) is read, in
    ``models.INSTANT_RANK`` order, as a worker merges its topics (which it also does once a
    topic is read to its end): so a run, a backtest and the workers give the same tasks."""
    r = Replay()

    def bad(dl: DeadLetter) -> None:
        r.dead_letters[dl.reason] += 1
        on_bad(dl)

    # The hot loop of every backtest: decoding (``io.read_events``) and the instant's buffer
    # are written out here rather than layered generators and helpers, which cost as much per
    # event as a rule does.
    loads, json_error, parse = orjson.loads, orjson.JSONDecodeError, parse_event
    fast = fast_transaction
    apply = _applier(engines, on_task, r)
    held: list[tuple[int, bytes, Event]] = []  # the latest instant's events, as read
    held_bad: list[DeadLetter] = []  # bad lines read since, reported with the instant's own
    held_ts = None
    ok = 0
    for lineno, raw in lines:
        if not raw:  # io.IDLE: a live input has nothing more for now
            if held:
                ok -= _flush(apply(held), held_bad, bad)
                held, held_bad, held_ts = [], [], None
            continue
        try:
            if len(raw) > MAX_LINE_BYTES:
                raise BadEvent("line_too_long", f"line longer than {MAX_LINE_BYTES} bytes")
            try:  # the usual well-formed transaction; anything else: the reference decode
                ev: Event | None = fast(raw)
            except Exception:  # noqa: BLE001 - not the usual shape
                ev = None
            if ev is None:  # (outside the handler: no exception chained to its errors)
                ev = parse(loads(raw))
        except json_error as exc:
            dl = DeadLetter(lineno, "bad_json", json_error_detail(exc), raw_text(raw))
        except BadEvent as exc:
            dl = DeadLetter(lineno, exc.reason, exc.detail, raw_text(raw))
        else:
            ok += 1
            if ev.ts != held_ts:
                if held:
                    rejected = apply(held)
                    if rejected or held_bad:
                        ok -= _flush(rejected, held_bad, bad)
                        held_bad = []
                    held = []
                held_ts = ev.ts
            held.append((lineno, raw, ev))
            continue
        if held:
            held_bad.append(dl)
        else:
            bad(dl)
    if held:
        ok -= _flush(apply(held), held_bad, bad)
    r.lines_ok = ok
    finish(r, engines, on_task)
    return r


def _flush(rejected: Sequence[DeadLetter], bad_lines: list[DeadLetter],
           bad: Callable[[DeadLetter], None]) -> int:
    """Report an instant's rejected events with the bad lines read meanwhile, in line order
    (the dead-letter file stays in input order); returns how many events were rejected."""
    for dl in sorted([*rejected, *bad_lines], key=lambda d: d.line) if bad_lines else rejected:
        bad(dl)
    return len(rejected)


def _applier(engines: list[EngineLike], on_task: TaskSink, r: Replay,
             ) -> Callable[[list[tuple[int, bytes, Event]]], Sequence[DeadLetter]]:
    """The replay's step for one instant: its events in ``INSTANT_RANK`` order, each fed to
    every engine, with the timer sweep when event time has moved on. Returns the dead letters
    of the events the engines rejected, in line order."""
    feed = _single_feed(engines[0], on_task, r) if len(engines) == 1 else None
    next_tick: int | None = None

    def apply(instant: list[tuple[int, bytes, Event]]) -> Sequence[DeadLetter]:
        nonlocal next_tick
        if len(instant) > 1:
            instant.sort(key=_rank)
        first = instant[0][2]
        ts = first.ts
        if ts and first.type != "watermark":  # (watermarks sort last: one alone is all)
            if r.last_ts is None:
                r.first_ts, r.tz = ts, first.tz
                r.last_ts = ts
            elif ts > r.last_ts:
                r.last_ts = ts
            if next_tick is None or ts >= next_tick:
                # Event time moved on: fire due timers now (bounded out-of-orderness: the
                # watermark trails the newest event by the late grace), so a live stdin run
                # shows inactivity/SLA tasks when they fall due, not only at the end.
                _tick(r, engines, on_task)
                next_tick = ts + TICK_MS
        rejected: list[DeadLetter] | None = None  # (a list only once one is rejected)
        for lineno, raw, ev in instant:
            rejection = feed(ev) if feed is not None else _feed(engines, ev, on_task, r)
            if rejection is not None:  # all engines judge lateness alike: dead-letter once
                if rejected is None:
                    rejected = []
                rejected.append(dead_letter_for(lineno, raw, rejection))
        if rejected is None:
            return ()
        rejected.sort(key=lambda d: d.line)
        return rejected

    return apply


def _rank(item: tuple[int, bytes, Event]) -> int:
    return INSTANT_RANK[item[2].type]


def _single_feed(eng: EngineLike, on_task: TaskSink, r: Replay,
                 ) -> Callable[[Event], BadEvent | None]:
    """``_feed`` for the usual single engine, with the engine's method bound once."""
    process = eng.process

    def feed(ev: Event) -> BadEvent | None:
        try:
            tasks = process(ev)
        except BadEvent as exc:
            return exc
        except (AlertingError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
            r.engine_errors += 1
            return BadEvent("engine_error", type(exc).__name__)
        for t in tasks:
            on_task(0, t)
        return None

    return feed


def _feed(engines: list[EngineLike], ev: Event, on_task: TaskSink, r: Replay,
          ) -> BadEvent | None:
    """Process one event in every engine; return why it was rejected, if it was."""
    rejection = None
    for i, eng in enumerate(engines):
        try:
            tasks = eng.process(ev)
        except BadEvent as exc:
            rejection = rejection or exc
            continue
        except (AlertingError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
            # An engine bug on one event must not stop the stream; the line is kept.
            r.engine_errors += 1
            rejection = rejection or BadEvent("engine_error", type(exc).__name__)
            continue
        for t in tasks:
            on_task(i, t)
    return rejection


def _tick(r: Replay, engines: list[EngineLike], on_task: TaskSink) -> None:
    if r.last_ts is None:
        return
    for i, eng in enumerate(engines):
        for t in eng.advance(r.last_ts - getattr(eng, "late_grace", 0)):
            on_task(i, t)


def finish(r: Replay, engines: list[EngineLike], on_task: TaskSink) -> None:
    """Advance every engine to the last event time (fires inactivity and SLA timers)."""
    if r.last_ts is None:
        return
    for i, eng in enumerate(engines):
        for t in eng.advance(r.last_ts):
            on_task(i, t)


class TaskCollector:
    """Keeps the latest revision of every task per engine (what a sink would hold)."""

    def __init__(self, n: int) -> None:
        self.tasks: list[dict[str, Task]] = [{} for _ in range(n)]
        self.emissions = [0] * n
        self.updates = [0] * n

    def __call__(self, i: int, t: Task) -> None:
        self.emissions[i] += 1
        if t.revision:
            self.updates[i] += 1
        cur = self.tasks[i].get(t.task_id)
        if cur is None or t.revision >= cur.revision:
            self.tasks[i][t.task_id] = t

    def final(self, i: int = 0) -> list[Task]:
        """Engine i's tasks in a deterministic order (creation time, then id)."""
        return sorted(self.tasks[i].values(), key=lambda t: (t.created_ms, t.task_id))


# --- summaries -------------------------------------------------------------------------------

@dataclass
class ManagerLoad:
    """Forecast of one manager's load: tasks per day over the input's days."""

    manager_id: str
    total: int
    mean_per_day: float
    max_per_day: int
    busiest_day: str


@dataclass
class Summary:
    """Tasks of one rule set grouped for the summary table."""

    total: int
    by_rule: dict[str, int]
    by_severity: dict[str, int]
    by_manager: dict[str, int]
    by_week: dict[str, int]
    forecast: list[ManagerLoad]
    days: int


def iso_week(iso_ts: str) -> str:
    """'2025-01-06T10:00:00+08:00' -> '2025-W02' (the week in the task's own offset)."""
    y, w, _ = datetime.fromisoformat(iso_ts).isocalendar()
    return f"{y}-W{w:02d}"


def _local_day(ms: int, tz: int) -> int:
    return (ms + tz * 60_000) // DAY


def summarise(tasks: list[Task], r: Replay) -> Summary:
    """Group final tasks by rule, severity, assignee and ISO week, and forecast the load."""
    sev_order = {s: i for i, s in enumerate(("critical", "high", "medium", "low", "info"))}
    by_sev = Counter(t.severity for t in tasks)
    days = _span_days(r)
    return Summary(
        total=len(tasks),
        by_rule=dict(sorted(Counter(t.rule_id for t in tasks).items())),
        by_severity=dict(sorted(by_sev.items(), key=lambda kv: (sev_order.get(kv[0], 9), kv[0]))),
        by_manager=dict(sorted(Counter(t.assignee_id or "(unassigned)" for t in tasks).items(),
                               key=lambda kv: (-kv[1], kv[0]))),
        by_week=dict(sorted(Counter(iso_week(t.created_at) for t in tasks).items())),
        forecast=forecast(tasks, r, days),
        days=days,
    )


def _span_days(r: Replay) -> int:
    if r.first_ts is None or r.last_ts is None:
        return 0
    return _local_day(r.last_ts, r.tz) - _local_day(r.first_ts, r.tz) + 1


def forecast(tasks: list[Task], r: Replay, days: int) -> list[ManagerLoad]:
    """Expected tasks per manager per day: mean over every day of the input (quiet days count
    as zero) and the busiest day; busiest managers first."""
    if days <= 0:
        return []
    per: dict[str, Counter[int]] = defaultdict(Counter)
    for t in tasks:
        per[t.assignee_id or "(unassigned)"][_local_day(t.created_ms, r.tz)] += 1
    out = []
    for mid, counts in per.items():
        day, peak = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))
        out.append(ManagerLoad(mid, sum(counts.values()), sum(counts.values()) / days, peak,
                               datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")))
    out.sort(key=lambda m: (-m.total, -m.max_per_day, m.manager_id))
    return out


@dataclass
class Diff:
    """Tasks of rule set A versus B over the same events, matched by ``task_id``."""

    only_a: list[Task]
    only_b: list[Task]
    both: int
    per_rule: dict[str, tuple[int, int, int]]  # rule -> (only in A, only in B, in both)


def diff(a: list[Task], b: list[Task]) -> Diff:
    """Compare two task lists by task id (same rule, customer and situation)."""
    ia = {t.task_id: t for t in a}
    ib = {t.task_id: t for t in b}
    only_a = [t for t in a if t.task_id not in ib]
    only_b = [t for t in b if t.task_id not in ia]
    both = [t for t in a if t.task_id in ib]
    rules = sorted({t.rule_id for t in a} | {t.rule_id for t in b})
    ca, cb, cboth = (Counter(t.rule_id for t in xs) for xs in (only_a, only_b, both))
    return Diff(only_a, only_b, len(both), {r: (ca[r], cb[r], cboth[r]) for r in rules})


def summary_json(s: Summary, r: Replay, top: int = 20) -> dict[str, Any]:
    """The summary as a JSON-safe dict (``--json``)."""
    return {
        "events_read": r.events_read, "events_ok": r.lines_ok,
        "dead_letters": dict(sorted(r.dead_letters.items())), "days": s.days,
        "tasks": s.total, "by_rule": s.by_rule, "by_severity": s.by_severity,
        "by_manager": dict(list(s.by_manager.items())[:top]), "by_week": s.by_week,
        "forecast": [{"manager_id": m.manager_id, "tasks": m.total,
                      "mean_per_day": round(m.mean_per_day, 3), "max_per_day": m.max_per_day,
                      "busiest_day": m.busiest_day} for m in s.forecast[:top]],
    }


def diff_json(d: Diff) -> dict[str, Any]:
    """The rule-set difference as a JSON-safe dict."""
    return {"only_a": len(d.only_a), "only_b": len(d.only_b), "both": d.both,
            "per_rule": {r: {"only_a": x, "only_b": y, "both": z}
                         for r, (x, y, z) in d.per_rule.items()}}
