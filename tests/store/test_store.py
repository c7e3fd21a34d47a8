"""The TaskStore contract, run against the memory store and the real Redis store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from alerting.errors import TaskNotFound
from alerting.store.redis import RedisTaskStore
from alerting.tasks import Task


async def test_insert_then_get(store: Any, make_task: Callable[..., Task]) -> None:
    t = make_task()
    stored, changed = await store.upsert_emitted(t)
    assert changed and stored == t
    assert await store.get("t-1") == t


async def test_get_missing_raises(store: Any) -> None:
    with pytest.raises(TaskNotFound):
        await store.get("t-nope")


async def test_higher_revision_merges_evidence_and_keeps_lifecycle(
        store: Any, make_task: Callable[..., Task]) -> None:
    await store.upsert_emitted(make_task())
    t = await store.get("t-1")
    t.status = "acknowledged"
    t.assignee_id = "s1"
    t.escalation_level = 1
    t.history.append({"at": "x", "by": "m1", "action": "acknowledged", "detail": ""})
    await store.save(t)
    newer = make_task(revision=1, evidence={"amount": "300000.00"}, event_ids=["e1", "e2"],
                      assignee_id="m1", status="open")
    stored, changed = await store.upsert_emitted(newer)
    assert changed
    assert stored.evidence == {"amount": "300000.00"} and stored.event_ids == ["e1", "e2"]
    assert (stored.status, stored.assignee_id, stored.escalation_level) == ("acknowledged",
                                                                            "s1", 1)
    assert len(stored.history) == 1
    assert await store.get("t-1") == stored


async def test_same_or_lower_revision_ignored(store: Any, make_task: Callable[..., Task]) -> None:
    await store.upsert_emitted(make_task(revision=2, evidence={"n": "2"}))
    for rev in (2, 1, 0):
        stored, changed = await store.upsert_emitted(make_task(revision=rev,
                                                               evidence={"n": "x"}))
        assert not changed and stored.evidence == {"n": "2"}


async def test_list_filters_and_order(store: Any, make_task: Callable[..., Task]) -> None:
    await store.upsert_emitted(make_task("t-a", due_ms=300, severity="low", created_ms=10))
    await store.upsert_emitted(make_task("t-b", due_ms=100, severity="low", created_ms=20))
    await store.upsert_emitted(make_task("t-c", due_ms=300, severity="critical",
                                         created_ms=30, assignee_id="m2", rule_id="other"))
    await store.upsert_emitted(make_task("t-d", due_ms=50, assignee_id="m3", status="resolved",
                                         created_ms=40))
    ids = lambda ts: [t.task_id for t in ts]  # noqa: E731
    assert ids(await store.list()) == ["t-d", "t-b", "t-c", "t-a"]
    assert ids(await store.list(assignees=["m1", "m2"])) == ["t-b", "t-c", "t-a"]
    assert ids(await store.list(statuses=["open"])) == ["t-b", "t-c", "t-a"]
    assert ids(await store.list(rule_id="other")) == ["t-c"]
    assert ids(await store.list(since_ms=30)) == ["t-d", "t-c"]
    assert ids(await store.list(assignees=["m1"], limit=1)) == ["t-b"]


async def test_reassignment_and_status_move_indexes(store: Any,
                                                    make_task: Callable[..., Task]) -> None:
    await store.upsert_emitted(make_task())
    t = await store.get("t-1")
    t.assignee_id = "s1"
    t.status = "acknowledged"
    await store.save(t)
    assert await store.list(assignees=["m1"]) == []
    assert [x.task_id for x in await store.list(assignees=["s1"])] == ["t-1"]
    assert await store.list(statuses=["open"]) == []
    assert len(await store.list(statuses=["acknowledged"])) == 1


async def test_list_open_due_uses_escalation_clock(store: Any,
                                                   make_task: Callable[..., Task]) -> None:
    await store.upsert_emitted(make_task("t-a", escalate_at_ms=1000))
    await store.upsert_emitted(make_task("t-b", escalate_at_ms=2000))
    await store.upsert_emitted(make_task("t-c"))  # no clock
    assert [t.task_id for t in await store.list_open_due(1000)] == ["t-a"]
    assert {t.task_id for t in await store.list_open_due(5000)} == {"t-a", "t-b"}
    t = await store.get("t-a")
    t.status = "acknowledged"
    t.escalate_at_ms = None
    await store.save(t)
    assert [t.task_id for t in await store.list_open_due(5000)] == ["t-b"]


@pytest.mark.integration
async def test_redis_keys_live_under_prefix_and_are_deleted(
        redis_store: RedisTaskStore, make_task: Callable[..., Task]) -> None:
    await redis_store.upsert_emitted(make_task(escalate_at_ms=5))
    keys = [k async for k in redis_store.r.scan_iter(match=f"{redis_store.p}*")]
    assert len(keys) >= 4
    assert await redis_store.delete_all() == len(keys)
    assert [k async for k in redis_store.r.scan_iter(match=f"{redis_store.p}*")] == []


@pytest.mark.integration
async def test_redis_concurrent_upserts_keep_highest_revision(
        redis_store: RedisTaskStore, make_task: Callable[..., Task]) -> None:
    import asyncio

    await asyncio.gather(*(redis_store.upsert_emitted(make_task(revision=r, evidence={"r": str(r)}))
                           for r in (3, 0, 5, 1, 4, 2)))
    t = await redis_store.get("t-1")
    assert t.revision == 5 and t.evidence == {"r": "5"}


async def test_update_is_read_modify_write(store: Any, make_task: Callable[..., Task]) -> None:
    await store.upsert_emitted(make_task(escalate_at_ms=5))

    def ack(t: Task) -> Task:
        t.status = "acknowledged"
        t.escalate_at_ms = None
        return t

    got = await store.update("t-1", ack)
    assert got.status == "acknowledged"
    assert (await store.get("t-1")).status == "acknowledged"
    assert await store.list_open_due(10) == []
    same = await store.update("t-1", lambda t: None)
    assert same == got
    with pytest.raises(TaskNotFound):
        await store.update("t-none", ack)

    def boom(t: Task) -> Task:
        raise ValueError("abort")

    with pytest.raises(ValueError):
        await store.update("t-1", boom)
    assert (await store.get("t-1")) == got


@pytest.mark.integration
async def test_redis_concurrent_updates_lose_nothing(
        redis_store: RedisTaskStore, make_task: Callable[..., Task]) -> None:
    import asyncio

    await redis_store.upsert_emitted(make_task())

    def add(i: int) -> Callable[[Task], Task]:
        def change(t: Task) -> Task:
            t.history.append({"at": "", "by": str(i), "action": "x", "detail": ""})
            return t
        return change

    await asyncio.gather(*(redis_store.update("t-1", add(i)) for i in range(20)))
    t = await redis_store.get("t-1")
    assert sorted(int(h["by"]) for h in t.history) == list(range(20))
