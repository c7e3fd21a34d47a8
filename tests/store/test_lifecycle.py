"""TaskService: visibility through the hierarchy, acknowledge, resolve, metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerting.directory import Directory, Manager
from alerting.errors import Forbidden, TaskNotFound
from alerting.metrics import Metrics
from alerting.store.lifecycle import InvalidOutcome, InvalidTransition, TaskService
from alerting.tasks import Task

NOW = 1_772_420_400.0  # 2026-03-02T03:00:00Z = 11:00 +08:00, one hour after creation


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
async def service(store: Any, directory: Directory, metrics: Metrics,
                  make_task: Callable[..., Task]) -> TaskService:
    await store.upsert_emitted(make_task("t-m1", assignee_id="m1", escalate_at_ms=1))
    await store.upsert_emitted(make_task("t-m2", assignee_id="m2", due_ms=1))
    await store.upsert_emitted(make_task("t-m3", assignee_id="m3"))
    return TaskService(store, directory, clock=lambda: NOW, metrics=metrics, tz_minutes=480)


def test_visible_assignees(service: TaskService) -> None:
    assert service.visible_assignees("m1") == {"m1"}
    assert service.visible_assignees("s1") == {"s1", "m1", "m2"}
    assert service.visible_assignees("v1") == {"v1", "s1", "s2", "m1", "m2", "m3"}


def test_visible_assignees_cycle_safe() -> None:
    d = Directory()
    d.put_manager(Manager("a", supervisor_id="b"))
    d.put_manager(Manager("b", supervisor_id="a"))
    svc = TaskService(None, d, clock=lambda: 0.0)  # type: ignore[arg-type]
    assert svc.visible_assignees("a") == {"a", "b"}


async def test_manager_sees_only_own_tasks(service: TaskService) -> None:
    assert [t.task_id for t in await service.list_for("m1")] == ["t-m1"]
    with pytest.raises(Forbidden):
        await service.get_for("m1", "t-m2")
    with pytest.raises(Forbidden):
        await service.acknowledge("m1", "t-m3")


async def test_supervisor_sees_team_sorted_by_due(service: TaskService) -> None:
    assert [t.task_id for t in await service.list_for("s1")] == ["t-m2", "t-m1"]
    assert (await service.get_for("s1", "t-m1")).assignee_id == "m1"
    with pytest.raises(Forbidden):
        await service.get_for("s1", "t-m3")
    assert len(await service.list_for("p1")) == 3


async def test_missing_task(service: TaskService) -> None:
    with pytest.raises(TaskNotFound):
        await service.get_for("m1", "t-none")


async def test_acknowledge_stops_escalation_clock(service: TaskService, store: Any,
                                                  metrics: Metrics) -> None:
    assert [t.task_id for t in await store.list_open_due(10)] == ["t-m1"]
    t = await service.acknowledge("m1", "t-m1", note="calling her now")
    assert t.status == "acknowledged" and t.escalate_at_ms is None
    assert t.acknowledged_at == "2026-03-02T11:00:00+08:00"
    assert t.history[-1] == {"at": "2026-03-02T11:00:00+08:00", "by": "m1",
                             "action": "acknowledged", "detail": "calling her now"}
    assert await store.list_open_due(10) == []
    assert (await store.get("t-m1")).status == "acknowledged"
    count = metrics.registry.get_sample_value("alerting_task_ack_latency_seconds_count",
                                              {"rule": "large_withdrawal"})
    total = metrics.registry.get_sample_value("alerting_task_ack_latency_seconds_sum",
                                              {"rule": "large_withdrawal"})
    assert (count, total) == (1.0, 3600.0)
    again = await service.acknowledge("m1", "t-m1")
    assert len(again.history) == 1


async def test_resolve_with_outcome(service: TaskService, store: Any) -> None:
    t = await service.resolve("s1", "t-m2", "retained", note="kept the deposit")
    assert (t.status, t.outcome, t.note) == ("resolved", "retained", "kept the deposit")
    assert t.resolved_at == t.acknowledged_at == "2026-03-02T11:00:00+08:00"
    stored = await store.get("t-m2")
    assert stored.status == "resolved" and stored.history[-1]["action"] == "resolved"
    with pytest.raises(InvalidTransition):
        await service.resolve("s1", "t-m2", "retained")
    with pytest.raises(InvalidTransition):
        await service.acknowledge("s1", "t-m2")


async def test_resolve_rejects_unknown_outcome(service: TaskService) -> None:
    with pytest.raises(InvalidOutcome):
        await service.resolve("m1", "t-m1", "forgot")
