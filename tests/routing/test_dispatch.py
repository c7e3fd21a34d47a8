"""Dispatcher: grouping, updates, escalation on an injected clock, ack stopping escalation,
repeats, workload overflow. Uses the in-test FakeOutbox (conftest) that records enqueued
notifications with the outbox's dedup contract; delivery is the notifiers' suite's business."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerting.directory import Directory
from alerting.metrics import Metrics
from alerting.routing.dispatch import Dispatcher
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.store.lifecycle import TaskService
from alerting.store.memory import MemoryTaskStore
from alerting.tasks import Task
from alerting.timeutil import HOUR, MINUTE, SECOND

ROUTING: dict[str, Any] = {
    "route": {"receiver": "managers", "group_wait": "30s", "group_interval": "5m",
              "repeat_interval": "4h",
              "routes": [{"match": {"severity": "critical"}, "receiver": "desk",
                          "group_by": [], "group_wait": "0s", "continue": True},
                         {"match": {"branch": "B1"}, "receiver": "managers"}]},
    "receivers": [{"name": "managers"}, {"name": "desk"}],
    "escalation": {"ack_deadline": {"critical": "30m", "high": "2h"}, "max_level": 3},
}


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
def make_dispatcher(directory: Directory, outbox: Any, clock: Any,
                    metrics: Metrics) -> Callable[..., Dispatcher]:
    def make(routing: dict[str, Any] | None = None, calendar: dict[str, Any] | None = None,
             store: Any = None) -> Dispatcher:
        return Dispatcher(RoutingSpec.model_validate(routing or ROUTING),
                          CalendarSpec.model_validate(calendar or {}), directory,
                          store if store is not None else MemoryTaskStore(), outbox, clock,
                          metrics)
    return make


async def test_tasks_for_one_manager_grouped_after_group_wait(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    d = make_dispatcher()
    await d.handle([make_task("t-1")])
    clock.advance(10 * SECOND)
    await d.handle([make_task("t-2", severity="medium"), make_task("t-3", assignee_id="m2",
                                                                   customer_id="C2")])
    assert await d.tick() == 0 and outbox.items == []
    clock.advance(20 * SECOND)
    assert await d.tick() == 1  # m1's group (30s after its first task)
    (n,) = outbox.take()
    assert (n.receiver, n.kind, n.recipient_id, n.locale) == ("managers", "task", "m1", "zh")
    assert n.title == "2 条新任务" and n.recipient_email == "m1@bank.test"
    assert [t["task_id"] for t in n.tasks] == ["t-1", "t-2"]
    assert "大额取款" in n.text and "amount=250000.00" in n.text
    clock.advance(10 * SECOND)
    await d.tick()
    (n2,) = outbox.take()
    assert (n2.recipient_id, n2.locale, n2.title) == ("m2", "en", "Large withdrawal")
    assert "Customer withdrew 250,000.00" in n2.text


async def test_critical_goes_to_desk_at_once_and_continues(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    d = make_dispatcher()
    await d.handle([make_task("t-c", severity="critical")])
    (n,) = outbox.take()
    assert (n.receiver, n.kind) == ("desk", "task")
    clock.advance(30 * SECOND)
    await d.tick()
    assert [x.receiver for x in outbox.take()] == ["managers"]


async def test_replay_is_ignored_and_revision_sends_update(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    d = make_dispatcher()
    await d.handle([make_task()])
    clock.advance(HOUR)
    await d.tick()
    outbox.take()
    assert await d.handle([make_task()]) == []  # replay after a crash: nothing new
    stored = await d.handle([make_task(revision=1, evidence={"amount": "400000.00"})])
    assert stored[0].evidence == {"amount": "400000.00"}
    clock.advance(5 * MINUTE)
    await d.tick()
    (n,) = outbox.take()
    assert n.kind == "update" and n.title.startswith("任务更新")


async def test_group_interval_spaces_out_follow_ups(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    d = make_dispatcher()
    await d.handle([make_task("t-1")])
    clock.advance(30 * SECOND)
    await d.tick()
    outbox.take()
    await d.handle([make_task("t-2")])
    clock.advance(60 * SECOND)
    await d.tick()
    assert outbox.items == []  # within group_interval of the last flush
    clock.advance(4 * MINUTE)
    await d.tick()
    assert [n.tasks[0]["task_id"] for n in outbox.take()] == ["t-2"]


async def test_escalation_climbs_the_ladder(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any, metrics: Metrics) -> None:
    d = make_dispatcher()
    await d.handle([make_task()])  # high: 2h deadline
    clock.advance(2 * HOUR - 1)
    await d.tick()
    outbox.take()
    assert (await d.store.get("t-1")).assignee_id == "m1"
    chain = []
    for _ in range(4):
        clock.advance(2 * HOUR)
        await d.tick()
        t = await d.store.get("t-1")
        chain.append((t.assignee_id, t.escalation_level))
    assert chain == [("s1", 1), ("v1", 2), ("p1", 3), ("p1", 3)]  # max_level 3
    t = await d.store.get("t-1")
    assert t.escalate_at_ms is None
    assert [h["action"] for h in t.history] == ["assigned", "notified", "escalated",
                                                "escalated", "escalated"]
    esc = [n for n in outbox.take() if n.kind == "escalation"]
    assert [n.recipient_id for n in esc] == ["s1", "v1", "p1"]
    assert esc[0].title == "任务升级：大额取款" and "m1" in esc[0].text
    for level in ("1", "2", "3"):
        assert metrics.registry.get_sample_value("alerting_escalations_total",
                                                 {"level": level}) == 1.0


async def test_acknowledge_stops_escalation(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any, directory: Directory) -> None:
    d = make_dispatcher()
    await d.handle([make_task()])
    clock.advance(HOUR)
    svc = TaskService(d.store, directory, clock)
    await svc.acknowledge("m1", "t-1")
    clock.advance(10 * HOUR)
    await d.tick()
    t = await d.store.get("t-1")
    assert (t.assignee_id, t.escalation_level, t.status) == ("m1", 0, "acknowledged")
    assert not [n for n in outbox.take() if n.kind == "escalation"]


async def test_business_time_deadline(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    routing = {**ROUTING, "escalation": {"ack_deadline": {"high": "2h"}, "business_time": True}}
    d = make_dispatcher(routing, {"working_hours": ["09:00-17:30"]})
    clock.ms += 7 * HOUR  # Monday 17:00 local
    await d.handle([make_task()])
    t = await d.store.get("t-1")
    # 30 minutes today, 90 minutes on Tuesday morning: Tuesday 10:30
    assert t.escalate_at_ms == clock.ms + 17 * HOUR + 30 * MINUTE
    clock.advance(17 * HOUR + 29 * MINUTE)
    await d.tick()
    assert (await d.store.get("t-1")).escalation_level == 0
    clock.advance(MINUTE)
    await d.tick()
    assert (await d.store.get("t-1")).escalation_level == 1


async def test_escalation_skips_absent_supervisor(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        clock: Any, directory: Directory) -> None:
    from dataclasses import replace
    directory.put_manager(replace(directory.managers["s1"], absent=True, delegate_id="s2"))
    d = make_dispatcher()
    await d.handle([make_task(severity="critical")])
    clock.advance(30 * MINUTE)
    await d.tick()
    assert (await d.store.get("t-1")).assignee_id == "s2"


async def test_absent_assignee_handed_over_on_intake(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        directory: Directory) -> None:
    from dataclasses import replace
    directory.put_manager(replace(directory.managers["m1"], absent=True, delegate_id="m2"))
    d = make_dispatcher()
    (t,) = await d.handle([make_task()])
    assert t.assignee_id == "m2"
    assert t.history[0]["action"] == "handover" and "m1" in t.history[0]["detail"]


async def test_repeat_reminds_open_tasks_only(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any, directory: Directory) -> None:
    routing = {**ROUTING, "escalation": None}
    d = make_dispatcher(routing)
    await d.handle([make_task("t-1"), make_task("t-2")])
    clock.advance(30 * SECOND)
    await d.tick()
    outbox.take()
    await TaskService(d.store, directory, clock).acknowledge("m1", "t-2")
    clock.advance(4 * HOUR)
    await d.tick()
    (n,) = outbox.take()
    assert n.kind == "repeat" and [t["task_id"] for t in n.tasks] == ["t-1"]
    assert n.title == "提醒：大额取款"
    clock.advance(MINUTE)
    await d.tick()
    assert outbox.items == []  # the next reminder is 4h later
    clock.advance(4 * HOUR)
    await d.tick()
    assert len(outbox.take()) == 1


async def test_workload_overflow_to_supervisor(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        clock: Any) -> None:
    routing = {**ROUTING, "workload": {"max_per_day": 2}}
    store = MemoryTaskStore()
    d = make_dispatcher(routing, store=store)
    got = await d.handle([make_task(f"t-{i}") for i in range(4)])
    assert [t.assignee_id for t in got] == ["m1", "m1", "s1", "s1"]
    assert got[2].history[0]["action"] == "overflow"
    assert "daily cap of 2" in got[2].history[0]["detail"]
    # a restarted dispatcher seeds today's count from the store
    d2 = make_dispatcher(routing, store=store)
    (t,) = await d2.handle([make_task("t-9")])
    assert t.assignee_id == "s1"
    # the next local day starts a fresh count
    clock.advance(24 * HOUR)
    (t,) = await d2.handle([make_task("t-10", created_ms=clock.ms)])
    assert t.assignee_id == "m1"


async def test_unknown_assignee_assigned_from_directory(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task]) -> None:
    d = make_dispatcher()
    (t,) = await d.handle([make_task(assignee_id=None, customer_id="C2")])
    assert t.assignee_id == "m2"


async def test_restart_sends_notifications_lost_in_pending_groups(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    store = MemoryTaskStore()
    d = make_dispatcher(store=store)
    await d.handle([make_task("t-1"), make_task("t-2", severity="critical")])
    assert [n.receiver for n in outbox.take()] == ["desk"]  # desk has no group_wait
    # the process dies before the managers group's 30s elapse; a new dispatcher starts
    d2 = make_dispatcher(store=store)
    await d2.tick()
    assert outbox.items == []  # regrouped, waiting again
    clock.advance(30 * SECOND)
    await d2.tick()
    (n,) = outbox.take()
    assert n.receiver == "managers" and {t["task_id"] for t in n.tasks} == {"t-1", "t-2"}
    # a third start finds everything notified
    d3 = make_dispatcher(store=store)
    clock.advance(HOUR)
    await d3.tick()
    assert [x for x in outbox.take() if x.kind == "task"] == []


async def test_ack_racing_escalation_wins(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any, directory: Directory) -> None:
    """The escalation scan lists a due task, then the manager acknowledges before the
    escalation is written: the re-check on the fresh task keeps the acknowledgement."""
    d = make_dispatcher()
    await d.handle([make_task()])
    clock.advance(2 * HOUR)
    store = d.store
    real_list = store.list_open_due

    async def list_then_ack(before_ms: int) -> list[Task]:
        due = await real_list(before_ms)
        await TaskService(store, directory, clock).acknowledge("m1", "t-1")
        return due

    store.list_open_due = list_then_ack  # type: ignore[method-assign]
    await d.tick()
    t = await store.get("t-1")
    assert (t.status, t.assignee_id, t.escalation_level) == ("acknowledged", "m1", 0)
    assert not [n for n in outbox.take() if n.kind == "escalation"]


async def test_run_loop_ticks_until_stopped(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    import asyncio

    d = make_dispatcher()
    await d.handle([make_task()])
    clock.advance(HOUR)
    stop = asyncio.Event()
    runner = asyncio.create_task(d.run(stop, interval=0.01))
    async with asyncio.timeout(5):
        while not outbox.items:  # wait on the condition, with a deadline
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert outbox.items[0].kind == "task"


async def test_swap_routing_applies_to_later_tasks_and_keeps_waiting_groups(
        make_dispatcher: Callable[..., Dispatcher], make_task: Callable[..., Task],
        outbox: Any, clock: Any) -> None:
    d = make_dispatcher()
    await d.handle([make_task("t-1")])  # waits 30s in the managers' group
    assert d.escalation.deadline(make_task("x"), 0) == 2 * HOUR
    d.swap_routing(RoutingSpec.model_validate({
        "route": {"receiver": "desk", "group_by": [], "group_wait": "0s"},
        "receivers": [{"name": "managers"}, {"name": "desk"}],
        "escalation": {"ack_deadline": {"high": "1h"}},
        "workload": {"max_per_day": 1}}), CalendarSpec.model_validate({"timezone": "+07:00"}))
    await d.handle([make_task("t-2", assignee_id="m2", customer_id="C2")])
    (n,) = outbox.take()  # the new tree: at once, to the desk
    assert (n.receiver, [t["task_id"] for t in n.tasks]) == ("desk", ["t-2"])
    assert d.escalation.deadline(make_task("x"), 0) == HOUR
    assert d.workload.spec is not None and d.workload.spec.max_per_day == 1
    assert d.tz == 420
    clock.advance(30 * SECOND)
    await d.tick()
    (n,) = outbox.take()  # the group that was waiting keeps its receiver
    assert (n.receiver, [t["task_id"] for t in n.tasks]) == ("managers", ["t-1"])
