"""The daily digest (日程表): time of sending, content and order, one per manager per day."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alerting.directory import Directory
from alerting.routing.dispatch import Dispatcher
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.store.lifecycle import TaskService
from alerting.store.memory import MemoryTaskStore
from alerting.tasks import Task
from alerting.timeutil import DAY, HOUR, MINUTE

ROUTING = {"route": {"receiver": "inbox", "repeat_interval": "100d"},
           "receivers": [{"name": "inbox"}],
           "digest": {"at": "08:30", "receiver": "inbox"}}


def dispatcher(directory: Directory, outbox: Any, clock: Any) -> Dispatcher:
    return Dispatcher(RoutingSpec.model_validate(ROUTING), CalendarSpec(), directory,
                      MemoryTaskStore(), outbox, clock)


async def test_digest_content_order_and_time(directory: Directory, outbox: Any, clock: Any,
                                             make_task: Callable[..., Task]) -> None:
    d = dispatcher(directory, outbox, clock)
    base = clock.ms
    await d.handle([
        make_task("t-late", due_ms=base + 5 * HOUR, due_at="2026-09-28T15:00:00+08:00"),
        make_task("t-crit", due_ms=base + HOUR, severity="critical"),
        make_task("t-high", due_ms=base + HOUR, severity="high"),
        make_task("t-done", due_ms=base),
        make_task("t-other", assignee_id="m2", customer_id="C2"),
    ])
    await TaskService(d.store, directory, clock).resolve("m1", "t-done", "contacted")
    await TaskService(d.store, directory, clock).acknowledge("m1", "t-high")
    clock.advance(HOUR)
    await d.tick()
    outbox.take()  # the new-task notifications
    # Tuesday 08:29 local: not yet
    clock.ms = base + DAY - 91 * MINUTE
    await d.tick()
    assert [n for n in outbox.items if n.kind == "digest"] == []
    clock.advance(MINUTE)  # 08:30
    await d.tick()
    digests = {n.recipient_id: n for n in outbox.take() if n.kind == "digest"}
    assert set(digests) == {"m1", "m2"}
    n = digests["m1"]
    assert n.notification_id == "inbox:digest:m1:2026-09-29"
    assert n.title == "日程表 2026-09-29：3 条待办任务"
    assert [t["task_id"] for t in n.tasks] == ["t-crit", "t-high", "t-late"]
    assert "已确认" in n.text and "紧急" in n.text
    assert digests["m2"].title == "Daily schedule 2026-09-29: 1 open tasks"
    # once per day
    clock.advance(HOUR)
    await d.tick()
    assert [x for x in outbox.items if x.kind == "digest"] == []


async def test_digest_skips_weekend_and_dedups_after_restart(
        directory: Directory, outbox: Any, clock: Any, make_task: Callable[..., Task]) -> None:
    d = dispatcher(directory, outbox, clock)
    await d.handle([make_task()])
    clock.ms += 5 * DAY  # Saturday 10:00
    await d.tick()
    assert not [n for n in outbox.take() if n.kind == "digest"]
    clock.ms += 2 * DAY  # Monday 10:00 (late start: still sends today's digest)
    await d.tick()
    assert len([n for n in outbox.take() if n.kind == "digest"]) == 1
    restarted = Dispatcher(d.routing, CalendarSpec(), directory, d.store, outbox, clock)
    assert await restarted.tick() == 0  # same deterministic id: the outbox drops it
