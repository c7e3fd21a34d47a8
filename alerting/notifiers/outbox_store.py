"""Storage behind the outbox: a durable Redis variant and an in-memory one, same interface.

An *item* is one notification for one notifier: ``{"id", "nid", "notifier", "attempts",
"last_error", "enqueued_at", "notification"}``. Each notifier has its own due-time queue, so a
slow or failing notifier never holds up another. ``claim`` takes a notifier's due items and
pushes their due time ``lease`` seconds ahead in the same atomic step: two workers never take the
same item, and an item claimed by a worker that died comes back after the lease (at-least-once:
receivers dedup on ``notification_id``).

Redis layout (prefix ``P``): ``P due:<notifier>`` sorted set item id → due time; ``P items`` hash
item id → item JSON; ``P depth`` hash notifier → waiting items; ``P seen:<nid>`` dedup marker
with a TTL; ``P dead`` list of dead-letter records (newest first, capped). Every change is one
Lua script. Single-instance Redis (the keys are not hash-tagged for Redis Cluster).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Protocol

Item = dict[str, Any]
OUTBOX_KEYSPACE = "outbox:"  # the worker's store lives at ``<ALERTING_REDIS_PREFIX>outbox:``


class OutboxStore(Protocol):
    """What the outbox needs from storage."""

    async def add(self, nid: str, items: list[Item], due: float) -> bool:
        """Store ``items`` due at ``due`` unless ``nid`` was seen before (then False)."""
        ...

    async def claim(self, notifier: str, now: float, limit: int, lease: float) -> list[Item]:
        """Up to ``limit`` of ``notifier``'s items due at ``now``, leased until ``now + lease``."""
        ...

    async def done(self, notifier: str, items: list[Item]) -> None:
        """Remove delivered items of ``notifier``."""
        ...

    async def reschedule(self, item: Item, due: float) -> None:
        """Save ``item`` (attempts, last error) and make it due again at ``due``."""
        ...

    async def dead(self, item: Item, record: dict[str, Any]) -> None:
        """Remove ``item`` (if waiting) and append ``record`` to the dead-letter list; with
        ``record["forced"]`` the record is appended even if the item was never stored."""
        ...

    async def depth(self) -> dict[str, int]:
        """Waiting items per notifier (notifiers with none may be absent or 0)."""
        ...

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` dead-letter records."""
        ...

    async def oldest_dead(self, limit: int) -> list[str]:
        """The oldest ``limit`` dead-letter records, as stored (JSON), oldest first."""
        ...

    async def requeue(self, raw: str, items: list[Item], due: float) -> bool:
        """Atomically remove dead-letter record ``raw`` and store ``items`` due at ``due``
        (items already waiting are kept as they are). False if ``raw`` was gone."""
        ...


def new_item(notification: dict[str, Any], notifier: str, now: float) -> Item:
    """A fresh item: ``notification`` (a ``Notification.to_dict()``) for ``notifier``."""
    nid = notification["notification_id"]
    return {"id": f"{nid}|{notifier}", "nid": nid, "notifier": notifier, "attempts": 0,
            "last_error": None, "enqueued_at": now, "notification": notification}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class MemoryOutboxStore:
    """In-process store for the embedded run (lost on exit, like the rest of its state)."""

    def __init__(self, *, max_seen: int = 200_000, max_dead: int = 100_000) -> None:
        self._items: dict[str, Item] = {}
        self._due: dict[str, dict[str, float]] = {}  # notifier -> item id -> due
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._dead: list[str] = []  # JSON records, newest first
        self._max_seen = max_seen
        self._max_dead = max_dead

    def _put(self, item: Item, due: float) -> None:
        self._items[item["id"]] = json.loads(_dumps(item))
        self._due.setdefault(item["notifier"], {})[item["id"]] = due

    def _remove(self, item: Item) -> bool:
        self._due.get(item["notifier"], {}).pop(item["id"], None)
        return self._items.pop(item["id"], None) is not None

    async def add(self, nid: str, items: list[Item], due: float) -> bool:
        """See :class:`OutboxStore`."""
        if nid in self._seen:
            return False
        self._seen[nid] = None
        if len(self._seen) > self._max_seen:
            self._seen.popitem(last=False)
        for item in items:
            self._put(item, due)
        return True

    async def claim(self, notifier: str, now: float, limit: int, lease: float) -> list[Item]:
        """See :class:`OutboxStore`."""
        queue = self._due.get(notifier, {})
        ready = sorted((t, i) for i, t in queue.items() if t <= now)[:limit]
        out = []
        for _, item_id in ready:
            queue[item_id] = now + lease
            out.append(json.loads(_dumps(self._items[item_id])))
        return out

    async def done(self, notifier: str, items: list[Item]) -> None:
        """See :class:`OutboxStore`."""
        for item in items:
            self._remove(item)

    async def reschedule(self, item: Item, due: float) -> None:
        """See :class:`OutboxStore`."""
        if item["id"] in self._items:
            self._put(item, due)

    async def dead(self, item: Item, record: dict[str, Any]) -> None:
        """See :class:`OutboxStore`."""
        if self._remove(item) or record.get("forced"):
            self._dead.insert(0, _dumps(record))
            del self._dead[self._max_dead :]

    async def depth(self) -> dict[str, int]:
        """See :class:`OutboxStore`."""
        return {name: len(q) for name, q in self._due.items()}

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """See :class:`OutboxStore`."""
        return [json.loads(r) for r in self._dead[:limit]]

    async def oldest_dead(self, limit: int) -> list[str]:
        """See :class:`OutboxStore`."""
        return list(reversed(self._dead[-limit:])) if limit > 0 else []

    async def requeue(self, raw: str, items: list[Item], due: float) -> bool:
        """See :class:`OutboxStore`."""
        try:
            i = len(self._dead) - 1 - self._dead[::-1].index(raw)
        except ValueError:
            return False
        del self._dead[i]
        for item in items:
            if item["id"] not in self._items:
                self._put(item, due)
        return True


# KEYS: seen, items, depth, due key of each item; ARGV: ttl, due, (id, notifier, json)*
_ADD = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for i = 3, #ARGV, 3 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
  redis.call('ZADD', KEYS[3 + i / 3], ARGV[2], ARGV[i])
  redis.call('HINCRBY', KEYS[3], ARGV[i + 1], 1)
end
return 1
"""

# KEYS: due, items; ARGV: now, limit, lease_until
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local p = redis.call('HGET', KEYS[2], id)
  if p then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, p)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""

# KEYS: due, items, depth; ARGV: notifier, ids...
_DONE = """
local n = 0
for i = 2, #ARGV do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then n = n + 1 end
  redis.call('ZREM', KEYS[1], ARGV[i])
end
if n > 0 then redis.call('HINCRBY', KEYS[3], ARGV[1], -n) end
return n
"""

# KEYS: due, items; ARGV: id, due, json
_RESCHEDULE = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
return 0
"""

# KEYS: due, items, depth, dead; ARGV: id, notifier, record, forced, max_dead
_DEAD = """
local removed = redis.call('HDEL', KEYS[2], ARGV[1])
if removed == 1 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HINCRBY', KEYS[3], ARGV[2], -1)
end
if removed == 1 or ARGV[4] == '1' then
  redis.call('LPUSH', KEYS[4], ARGV[3])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[5]) - 1)
  return 1
end
return 0
"""

# KEYS: dead, items, depth, due key of each item; ARGV: raw, due, (id, notifier, json)*
_REQUEUE = """
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
for i = 3, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[3 + i / 3], ARGV[2], ARGV[i])
    redis.call('HINCRBY', KEYS[3], ARGV[i + 1], 1)
  end
end
return 1
"""


class RedisOutboxStore:
    """Durable store on Redis (``redis.asyncio`` client passed in; see the module doc)."""

    def __init__(self, redis: Any, prefix: str = "alerting:outbox:", *,
                 seen_ttl: int = 7 * 86400, max_dead: int = 100_000) -> None:
        self._r = redis
        self.prefix = prefix
        self._seen_ttl = seen_ttl
        self._max_dead = max_dead
        self._k_items, self._k_depth = prefix + "items", prefix + "depth"
        self._k_dead = prefix + "dead"
        self._add = redis.register_script(_ADD)
        self._claim = redis.register_script(_CLAIM)
        self._done = redis.register_script(_DONE)
        self._resched = redis.register_script(_RESCHEDULE)
        self._dead = redis.register_script(_DEAD)
        self._requeue = redis.register_script(_REQUEUE)

    def _k_due(self, notifier: str) -> str:
        return f"{self.prefix}due:{notifier}"

    @staticmethod
    def _item_args(items: list[Item]) -> list[Any]:
        return [x for item in items for x in (item["id"], item["notifier"], _dumps(item))]

    async def add(self, nid: str, items: list[Item], due: float) -> bool:
        """See :class:`OutboxStore`."""
        keys = [self.prefix + "seen:" + nid, self._k_items, self._k_depth]
        keys += [self._k_due(item["notifier"]) for item in items]
        args = [self._seen_ttl, due, *self._item_args(items)]
        return bool(await self._add(keys=keys, args=args))

    async def claim(self, notifier: str, now: float, limit: int, lease: float) -> list[Item]:
        """See :class:`OutboxStore`."""
        raw = await self._claim(keys=[self._k_due(notifier), self._k_items],
                                args=[now, limit, now + lease])
        return [json.loads(p) for p in raw]

    async def done(self, notifier: str, items: list[Item]) -> None:
        """See :class:`OutboxStore`."""
        if items:
            await self._done(keys=[self._k_due(notifier), self._k_items, self._k_depth],
                             args=[notifier, *(item["id"] for item in items)])

    async def reschedule(self, item: Item, due: float) -> None:
        """See :class:`OutboxStore`."""
        await self._resched(keys=[self._k_due(item["notifier"]), self._k_items],
                            args=[item["id"], due, _dumps(item)])

    async def dead(self, item: Item, record: dict[str, Any]) -> None:
        """See :class:`OutboxStore`."""
        forced = "1" if record.get("forced") else "0"
        keys = [self._k_due(item["notifier"]), self._k_items, self._k_depth, self._k_dead]
        await self._dead(keys=keys, args=[item["id"], item["notifier"], _dumps(record), forced,
                                          self._max_dead])

    async def depth(self) -> dict[str, int]:
        """See :class:`OutboxStore`."""
        raw = await self._r.hgetall(self._k_depth)
        return {_s(k): int(v) for k, v in raw.items()}

    async def dead_count(self) -> int:
        """How many dead-letter records are kept."""
        return int(await self._r.llen(self._k_dead))

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """See :class:`OutboxStore`."""
        raw = await self._r.lrange(self._k_dead, 0, max(0, limit - 1))
        return [json.loads(r) for r in raw]

    async def oldest_dead(self, limit: int) -> list[str]:
        """See :class:`OutboxStore`."""
        if limit <= 0:
            return []
        raw = await self._r.lrange(self._k_dead, -limit, -1)
        return [_s(r) for r in reversed(raw)]

    async def requeue(self, raw: str, items: list[Item], due: float) -> bool:
        """See :class:`OutboxStore`."""
        keys = [self._k_dead, self._k_items, self._k_depth]
        keys += [self._k_due(item["notifier"]) for item in items]
        args = [raw, due, *self._item_args(items)]
        return bool(await self._requeue(keys=keys, args=args))


def _s(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v
