"""Checkpoints of a partition shard in Redis: the dirty customers' engine state, the engine meta,
the input offsets and the tasks topic's produced offsets, written together in one MULTI/EXEC so
that a restart resumes state and position consistently (Kafka Streams style).

Layout: one hash per (consumer group, partition number) at ``<prefix>ckpt:<group>:<partition>``
with fields ``o:<topic>`` (next offset to read), ``meta`` (engine meta bytes), ``out`` (JSON
{tasks partition: next offset} of our own produced tasks at checkpoint time),
``s:<customer_id>`` (the customer's state bytes) and ``c:<customer_id>`` (the profile of a
customer of this partition that an event on the customers topic changed, as the directory hash
holds it: the worker that takes the partition over applies them, since the directory it loaded
at its start may predate them). An incremental checkpoint only rewrites dirty customers; the
hash is the full state of the shard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from alerting.errors import ServiceUnavailable, StateError

_OFFSET = b"o:"
_STATE = b"s:"
_PROFILE = b"c:"


@dataclass(slots=True)
class PartitionCheckpoint:
    """What is saved for one partition shard (or was loaded back)."""

    partition: int
    offsets: dict[str, int] = field(default_factory=dict)  # input topic -> next offset
    meta: bytes = b""
    out_offsets: dict[int, int] = field(default_factory=dict)  # tasks partition -> next offset
    states: dict[str, bytes] = field(default_factory=dict)  # customer_id -> state (dirty only)
    deleted: list[str] = field(default_factory=list)  # customers whose state is gone
    profiles: dict[str, bytes] = field(default_factory=dict)  # customer_id -> changed profile


class CheckpointStore:
    """Reads and writes partition checkpoints under a key prefix."""

    def __init__(self, redis: aioredis.Redis, prefix: str, group: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.group = group

    def key(self, partition: int) -> str:
        """The hash key of one partition's checkpoint."""
        return f"{self.prefix}ckpt:{self.group}:{partition}"

    async def save(self, checkpoints: Iterable[PartitionCheckpoint],
                   side: dict[str, dict[str, bytes]] | None = None) -> int:
        """Write the checkpoints of several partitions in one atomic transaction, together with
        ``side`` hashes (e.g. directory profiles changed by the same events).

        Returns the number of hash fields written."""
        pipe = self.redis.pipeline(transaction=True)
        n = 0
        for key, fields in (side or {}).items():
            if fields:
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                n += len(fields)
        for cp in checkpoints:
            mapping: dict[bytes, bytes] = {
                _OFFSET + t.encode(): str(o).encode() for t, o in cp.offsets.items()}
            mapping[b"meta"] = cp.meta
            mapping[b"out"] = orjson.dumps({str(k): v for k, v in cp.out_offsets.items()})
            for cid, blob in cp.states.items():
                mapping[_STATE + cid.encode()] = blob
            for cid, blob in cp.profiles.items():
                mapping[_PROFILE + cid.encode()] = blob
            pipe.hset(self.key(cp.partition), mapping=mapping)  # type: ignore[arg-type]
            if cp.deleted:
                pipe.hdel(self.key(cp.partition), *[_STATE + c.encode() for c in cp.deleted])
            n += len(mapping)
        try:
            await pipe.execute()
        except RedisError as e:
            raise ServiceUnavailable(f"redis: checkpoint failed: {type(e).__name__}") from None
        return n

    async def load(self, partition: int) -> PartitionCheckpoint | None:
        """The partition's last checkpoint with all its customers' states, or None."""
        try:
            raw: dict[bytes, bytes] = await self.redis.hgetall(  # type: ignore[assignment, misc]
                self.key(partition))
        except RedisError as e:
            raise ServiceUnavailable(f"redis: loading checkpoint failed: "
                                     f"{type(e).__name__}") from None
        if not raw:
            return None
        cp = PartitionCheckpoint(partition=partition)
        try:
            for k, v in raw.items():
                if k.startswith(_STATE):
                    cp.states[k[2:].decode()] = v
                elif k.startswith(_OFFSET):
                    cp.offsets[k[2:].decode()] = int(v)
                elif k.startswith(_PROFILE):
                    cp.profiles[k[2:].decode()] = v
                elif k == b"meta":
                    cp.meta = v
                elif k == b"out":
                    cp.out_offsets = {int(p): int(o) for p, o in orjson.loads(v).items()}
        except (ValueError, orjson.JSONDecodeError) as e:
            raise StateError(f"checkpoint of partition {partition} is corrupt: "
                             f"{type(e).__name__}") from None
        return cp

    async def delete(self, partitions: Iterable[int]) -> None:
        """Remove checkpoints (tests and ``reset``)."""
        keys = [self.key(p) for p in partitions]
        if keys:
            await self.redis.delete(*keys)
