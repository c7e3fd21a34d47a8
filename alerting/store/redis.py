"""Redis task store: one hash per task plus sorted-set indexes.

Keys (``P`` = the prefix, e.g. ``alerting:``)::

    P task:<id>              hash {json, revision}
    P idx:all                zset task_id -> created_ms      (since filter, full listing)
    P idx:assignee:<mid>     zset task_id -> due_ms
    P idx:status:<status>    zset task_id -> due_ms
    P idx:escalate           zset task_id -> escalate_at_ms  (open tasks with a clock only)

Writes use WATCH/MULTI on the task key so concurrent workers never lose an update or leave an
index pointing at a stale assignee. Redis errors are translated to ``ServiceUnavailable``.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from alerting.errors import ServiceUnavailable, TaskNotFound
from alerting.store.base import matches, merge_emitted, sort_key
from alerting.tasks import STATUSES, Task

T = TypeVar("T")
_MAX_WATCH_RETRIES = 50


class RedisTaskStore:
    """``TaskStore`` on Redis (``redis.asyncio`` client, bytes or decoded responses)."""

    def __init__(self, client: Redis, prefix: str = "alerting:") -> None:
        self.r = client
        self.p = prefix

    def _task_key(self, task_id: str) -> str:
        return f"{self.p}task:{task_id}"

    async def _guard(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except RedisError as e:
            raise ServiceUnavailable(f"redis task store: {type(e).__name__}") from None

    async def _read(self, pipe: Any, task_id: str) -> Task | None:
        raw = await pipe.hget(self._task_key(task_id), "json")
        return None if raw is None else Task.from_json(raw)

    def _write(self, pipe: Any, old: Task | None, new: Task) -> None:
        """Queue the hash write and the index moves (inside MULTI)."""
        tid = new.task_id
        pipe.hset(self._task_key(tid), mapping={"json": new.to_json(),
                                                "revision": new.revision})
        pipe.zadd(f"{self.p}idx:all", {tid: new.created_ms})
        if old is not None and old.assignee_id and old.assignee_id != new.assignee_id:
            pipe.zrem(f"{self.p}idx:assignee:{old.assignee_id}", tid)
        if new.assignee_id:
            pipe.zadd(f"{self.p}idx:assignee:{new.assignee_id}", {tid: new.due_ms})
        if old is not None and old.status != new.status:
            pipe.zrem(f"{self.p}idx:status:{old.status}", tid)
        pipe.zadd(f"{self.p}idx:status:{new.status}", {tid: new.due_ms})
        if new.status == "open" and new.escalate_at_ms is not None:
            pipe.zadd(f"{self.p}idx:escalate", {tid: new.escalate_at_ms})
        else:
            pipe.zrem(f"{self.p}idx:escalate", tid)

    async def _update(self, task_id: str,
                      change: Callable[[Task | None], tuple[Task, bool]]) -> tuple[Task, bool]:
        """Optimistic read-modify-write of one task."""
        for _ in range(_MAX_WATCH_RETRIES):
            async with self.r.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(self._task_key(task_id))
                    old = await self._read(pipe, task_id)
                    new, changed = change(old)
                    if not changed:
                        await pipe.unwatch()
                        return new, False
                    pipe.multi()
                    self._write(pipe, old, new)
                    await pipe.execute()
                    return new, True
                except WatchError:
                    continue
        raise ServiceUnavailable("redis task store: too much contention on one task")

    async def upsert_emitted(self, task: Task) -> tuple[Task, bool]:
        """See ``TaskStore.upsert_emitted``."""
        return await self._guard(lambda: self._update(task.task_id,
                                                      lambda old: merge_emitted(old, task)))

    async def get(self, task_id: str) -> Task:
        """See ``TaskStore.get``."""
        t = await self._guard(lambda: self._read(self.r, task_id))
        if t is None:
            raise TaskNotFound(task_id)
        return t

    async def save(self, task: Task) -> None:
        """See ``TaskStore.save``."""
        await self._guard(lambda: self._update(task.task_id, lambda _old: (task, True)))

    async def update(self, task_id: str, change: Callable[[Task], Task | None]) -> Task:
        """See ``TaskStore.update`` (WATCH/MULTI; ``change`` is re-run on contention)."""
        def step(old: Task | None) -> tuple[Task, bool]:
            if old is None:
                raise TaskNotFound(task_id)
            new = change(old)
            return (old, False) if new is None else (new, True)
        task, _ = await self._guard(lambda: self._update(task_id, step))
        return task

    async def _candidate_ids(self, assignees: Collection[str] | None,
                             statuses: Collection[str] | None) -> list[str]:
        if assignees is not None:
            keys = [f"{self.p}idx:assignee:{a}" for a in assignees]
        elif statuses is not None:
            keys = [f"{self.p}idx:status:{s}" for s in statuses if s in STATUSES]
        else:
            keys = [f"{self.p}idx:all"]
        ids: set[str] = set()
        for k in keys:
            ids.update(_s(x) for x in await self.r.zrange(k, 0, -1))
        return sorted(ids)

    async def _fetch(self, ids: list[str]) -> list[Task]:
        if not ids:
            return []
        async with self.r.pipeline(transaction=False) as pipe:
            for tid in ids:
                pipe.hget(self._task_key(tid), "json")
            raws = await pipe.execute()
        return [Task.from_json(raw) for raw in raws if raw is not None]

    async def list(self, *, assignees: Collection[str] | None = None,
                   statuses: Collection[str] | None = None, rule_id: str | None = None,
                   since_ms: int | None = None, limit: int = 1000) -> list[Task]:
        """See ``TaskStore.list``."""
        async def run() -> builtins.list[Task]:
            tasks = await self._fetch(await self._candidate_ids(assignees, statuses))
            out = [t for t in tasks if matches(t, assignees=assignees, statuses=statuses,
                                                rule_id=rule_id, since_ms=since_ms)]
            out.sort(key=sort_key)
            return out[:limit]
        return await self._guard(run)

    async def list_open_due(self, before_ms: int) -> builtins.list[Task]:
        """See ``TaskStore.list_open_due`` (a range query on the escalation index)."""
        async def run() -> builtins.list[Task]:
            ids = [_s(x) for x in await self.r.zrangebyscore(f"{self.p}idx:escalate",
                                                             "-inf", before_ms)]
            tasks = await self._fetch(ids)
            return sorted((t for t in tasks if t.status == "open"), key=sort_key)
        return await self._guard(run)

    async def delete_all(self) -> int:
        """Delete every key under this store's prefix (tests and ``tasks purge``); SCAN-based,
        never FLUSHDB."""
        async def run() -> int:
            n = 0
            async for key in self.r.scan_iter(match=f"{self.p}*", count=500):
                n += await self.r.delete(key)
            return n
        return await self._guard(run)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else v
