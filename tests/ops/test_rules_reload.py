"""Hot reload with the real rules loader: good edits apply, bad edits keep the last good rules and
set the metric to 0, a fix recovers; the file watcher, SIGHUP and a failing apply."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from alerting.reload import RulesReloader

ONE_RULE = """\
version: 1
rules:
  - id: big-withdrawal
    kind: threshold
    severity: high
    where: event.kind == "withdrawal" and event.amount >= 100000
    title: "大额取款"
"""
TWO_RULES = ONE_RULE + """\
  - id: outflow-7d
    kind: window
    severity: medium
    where: event.kind in ["withdrawal", "transfer_out"]
    window: 7d
    aggregate: sum
    having: agg.sum >= 50000
    title: "7天流出"
"""
# line 11: a misspelt event field in the second rule's condition
BAD = TWO_RULES.replace('"transfer_out"]\n', '"transfer_out"] and event.amonut > 0\n')


def sample(m: Metrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return m.registry.get_sample_value(name, labels or {})


async def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
def setup(tmp_path: Path, metrics: Metrics) -> tuple[Path, list[Any], RulesReloader]:
    path = tmp_path / "rules.yaml"
    path.write_text(ONE_RULE, encoding="utf-8")
    applied: list[Any] = []
    reloader = RulesReloader(path, applied.append, metrics, clock=lambda: 1_700_000_000.0)
    initial = reloader.load_initial()
    assert [r.id for r in initial.rules] == ["big-withdrawal"]
    return path, applied, reloader


def test_good_edit_is_applied(setup, metrics: Metrics) -> None:
    path, applied, reloader = setup
    assert sample(metrics, "alerting_rules_loaded") == 1
    path.write_text(TWO_RULES, encoding="utf-8")
    result = reloader.reload()
    assert result.ok and result.rules == 2 and result.problems == ()
    assert [r.id for r in applied[-1].rules] == ["big-withdrawal", "outflow-7d"]
    assert sample(metrics, "alerting_rules_loaded") == 2
    assert sample(metrics, "alerting_rules_last_reload_success") == 1
    assert sample(metrics, "alerting_rules_last_reload_timestamp_seconds") == 1_700_000_000.0
    assert sample(metrics, "alerting_rules_reloads_total",
                  {"result": "ok", "trigger": "manual"}) == 1


def test_bad_edit_keeps_old_rules_then_fix_recovers(
        setup, metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    path, applied, reloader = setup
    caplog.set_level(logging.ERROR, logger="alerting.reload")
    path.write_text(BAD, encoding="utf-8")
    result = reloader.reload()
    assert not result.ok and result.rules == 1 and applied == []
    assert sample(metrics, "alerting_rules_last_reload_success") == 0
    assert sample(metrics, "alerting_rules_loaded") == 1
    problem = [r for r in caplog.records if getattr(r, "rule_id", None) == "outflow-7d"]
    assert problem, caplog.text
    assert problem[0].field == "where" and problem[0].line == 11  # type: ignore[attr-defined]
    assert any("amonut" in p and ":11:" in p for p in result.problems)

    path.write_text(TWO_RULES, encoding="utf-8")
    assert reloader.reload().ok
    assert [r.id for r in applied[-1].rules] == ["big-withdrawal", "outflow-7d"]
    assert sample(metrics, "alerting_rules_last_reload_success") == 1
    assert sample(metrics, "alerting_rules_loaded") == 2


def test_failing_apply_or_missing_file_keeps_old_rules(tmp_path: Path, metrics: Metrics) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(ONE_RULE, encoding="utf-8")

    def refuse(_: Any) -> None:
        raise RuntimeError("engine busy")

    reloader = RulesReloader(path, refuse, metrics)
    reloader.load_initial()
    path.write_text(TWO_RULES, encoding="utf-8")
    result = reloader.reload()
    assert not result.ok and "RuntimeError: engine busy" in result.problems[0]
    assert sample(metrics, "alerting_rules_last_reload_success") == 0
    assert sample(metrics, "alerting_rules_loaded") == 1
    path.unlink()
    result = reloader.reload()
    assert not result.ok and "cannot read rules file" in result.problems[0]


async def test_file_watcher_reloads_on_change_not_on_touch(setup, metrics: Metrics) -> None:
    path, applied, reloader = setup
    reloader.start_watching(interval=0.02)
    try:
        path.write_text(TWO_RULES, encoding="utf-8")
        await wait_until(lambda: len(applied) == 1)
        assert sample(metrics, "alerting_rules_reloads_total",
                      {"result": "ok", "trigger": "file"}) == 1
        path.write_text(BAD, encoding="utf-8")
        await wait_until(lambda: sample(metrics, "alerting_rules_last_reload_success") == 0)
        path.write_text(TWO_RULES, encoding="utf-8")
        await wait_until(lambda: len(applied) == 2)
    finally:
        await reloader.stop()
    # deterministic checks with single polls: a touch or unchanged bad content does nothing
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    assert await reloader.poll_once() is None
    path.write_text(BAD, encoding="utf-8")
    assert (await reloader.poll_once()).ok is False  # type: ignore[union-attr]
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 9_000_000_000))
    assert await reloader.poll_once() is None
    assert sample(metrics, "alerting_rules_reloads_total",
                  {"result": "rejected", "trigger": "file"}) == 2
    # an edit of the same size with the same mtime (coarse file-system clocks) is still seen
    path.write_text(TWO_RULES, encoding="utf-8")
    assert (await reloader.poll_once()).ok  # type: ignore[union-attr]
    st = path.stat()
    path.write_text(TWO_RULES.replace(">= 100000", ">= 200000"), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    assert (await reloader.poll_once()).ok  # type: ignore[union-attr]
    assert len(applied) == 4


async def test_sighup_triggers_a_reload(setup, metrics: Metrics) -> None:
    path, applied, reloader = setup
    previous = signal.getsignal(signal.SIGHUP)
    reloader.start(interval=0)  # SIGHUP only: the watcher must not be what reloads here
    try:
        path.write_text(TWO_RULES, encoding="utf-8")
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_until(lambda: len(applied) == 1)
        assert sample(metrics, "alerting_rules_reloads_total",
                      {"result": "ok", "trigger": "sighup"}) == 1
    finally:
        await reloader.stop()
    assert signal.getsignal(signal.SIGHUP) == previous


async def test_concurrent_triggers_are_serialised(setup) -> None:
    path, applied, reloader = setup
    path.write_text(TWO_RULES, encoding="utf-8")
    results = await asyncio.gather(*(reloader.areload("http") for _ in range(5)))
    assert all(r.ok for r in results) and len(applied) == 5


def test_window_state_survives_an_edit_of_another_rule(tmp_path: Path, metrics: Metrics) -> None:
    """The reloader applies through Engine.swap_rules: the unchanged window rule keeps its sum
    (40k + 30k = 70k crosses 50k only if the first 40k was kept); the edited rule restarts."""
    from alerting.directory import Directory
    from alerting.engine import Engine
    from alerting.models import parse_event

    path = tmp_path / "rules.yaml"
    path.write_text(TWO_RULES, encoding="utf-8")
    holder: dict[str, Engine] = {}
    reloader = RulesReloader(path, lambda rs: holder["engine"].swap_rules(rs), metrics)
    engine = holder["engine"] = Engine(reloader.load_initial(), Directory())

    def withdraw(n: int, amount: str) -> list[Any]:
        return engine.process(parse_event({
            "type": "transaction", "event_id": f"e{n}", "customer_id": "C1",
            "account_id": "A1", "ts": f"2024-03-0{n}T10:00:00+08:00", "kind": "withdrawal",
            "amount": amount, "channel": "counter"}))

    assert withdraw(1, "40000.00") == []
    path.write_text(TWO_RULES.replace(">= 100000", ">= 200000"), encoding="utf-8")
    assert reloader.reload().ok
    tasks = withdraw(2, "30000.00")
    assert [t.rule_id for t in tasks] == ["outflow-7d"]
    assert tasks[0].evidence["window_sum"] == "70000.00"
    # a change of the window rule itself restarts its window: 20k alone does not fire
    path.write_text(TWO_RULES.replace("agg.sum >= 50000", "agg.sum >= 60000"), encoding="utf-8")
    assert reloader.reload().ok
    assert withdraw(3, "20000.00") == []


async def test_apply_waits_for_the_batch_lock_and_swaps_every_live_engine(
        tmp_path: Path, metrics: Metrics) -> None:
    """With the host's batch lock held (a batch in progress), a reload validates but does not
    swap; once the batch ends, every live engine and every later engine get the new rules."""
    from alerting.directory import Directory
    from alerting.ops import LiveRules

    class SpyLock(asyncio.Lock):
        def __init__(self) -> None:
            super().__init__()
            self.asked = asyncio.Event()

        async def acquire(self) -> bool:
            self.asked.set()
            return await super().acquire()

    path = tmp_path / "rules.yaml"
    path.write_text(ONE_RULE, encoding="utf-8")
    live = LiveRules(None)
    lock = SpyLock()
    reloader = RulesReloader(path, live.apply, metrics, lock=lock)
    live.ruleset = reloader.load_initial()
    engines = [live.factory(Directory()), live.factory(Directory())]
    live.bind(lambda: engines)
    path.write_text(TWO_RULES, encoding="utf-8")
    async with lock:
        lock.asked.clear()  # set by our own acquire just now
        task = asyncio.create_task(reloader.areload("http"))
        await asyncio.wait_for(lock.asked.wait(), 5)
        assert [len(e.rules) for e in engines] == [1, 1]  # mid-batch: untouched
    assert (await task).ok
    assert [len(e.rules) for e in engines] == [2, 2]
    assert len(live.factory(Directory()).rules) == 2


def test_loading_exports_the_calendar_end_and_warns_when_it_is_near(
        tmp_path: Path, metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(ONE_RULE + 'calendar: {timezone: "+08:00", holidays: [2023-10-02]}\n',
                    encoding="utf-8")
    clock = [1_700_000_000.0]  # 2023-11-15: 46 days before the list runs out
    reloader = RulesReloader(path, lambda _: None, metrics, clock=lambda: clock[0])
    caplog.set_level(logging.WARNING, logger="alerting.reload")
    reloader.load_initial()
    end = 1_704_038_400.0  # 2024-01-01T00:00:00+08:00
    assert sample(metrics, "alerting_calendar_holidays_until_timestamp_seconds") == end
    assert not [r for r in caplog.records if getattr(r, "event", None) == "calendar_ends"]
    clock[0] = end - 20 * 86400
    path.write_text(path.read_text() + "# touched\n", encoding="utf-8")
    assert reloader.reload().ok
    warned = [r for r in caplog.records if getattr(r, "event", None) == "calendar_ends"]
    assert len(warned) == 1 and "2024-01-01" in warned[0].getMessage()
