"""The event-time watermark shared by all workers: the highest event time any of them has seen,
kept in Redis with an atomic max so that two workers advance timers exactly like one."""

from __future__ import annotations

import redis.asyncio as aioredis

_MAX = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local new = tonumber(ARGV[1])
if new > cur then redis.call('SET', KEYS[1], ARGV[1]); return new end
return cur
"""


class SharedWatermark:
    """``offer(ts)`` raises the shared watermark and returns its current value."""

    def __init__(self, redis: aioredis.Redis, key: str) -> None:
        self.key = key
        self._script = redis.register_script(_MAX)

    async def offer(self, ts: int) -> int:
        """Max(ts, shared) stored and returned (-1 when nothing was ever seen)."""
        return int(await self._script(keys=[self.key], args=[int(ts)]))
