"""The customer and manager directories in Redis and on the compacted Kafka topics.

Redis holds two hashes, ``<prefix>dir:customers`` and ``<prefix>dir:managers`` (field = id,
value = the profile as JSON with money in integer cents). A worker loads them once at start into a
process-local ``Directory`` (the engine reads it synchronously on the hot path); profile updates
arriving on the event stream change that cache and are written back with the checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from alerting.directory import Customer, Directory, Manager
from alerting.errors import ServiceUnavailable
from alerting.money import format_money
from alerting.timeutil import format_ts

_CUST_FIELDS = frozenset(f.name for f in dataclasses.fields(Customer))
_MGR_FIELDS = frozenset(f.name for f in dataclasses.fields(Manager))


def customers_key(prefix: str) -> str:
    """Redis hash of customer profiles."""
    return f"{prefix}dir:customers"


def managers_key(prefix: str) -> str:
    """Redis hash of managers."""
    return f"{prefix}dir:managers"


def encode_customer(c: Customer) -> bytes:
    """Internal JSON (cents, epoch ms) for the Redis hash."""
    return orjson.dumps(dataclasses.asdict(c))


def encode_manager(m: Manager) -> bytes:
    """Internal JSON for the Redis hash."""
    return orjson.dumps(dataclasses.asdict(m))


def decode_customer(raw: bytes) -> Customer:
    """Inverse of ``encode_customer`` (unknown keys ignored)."""
    d = orjson.loads(raw)
    return Customer(**{k: v for k, v in d.items() if k in _CUST_FIELDS})


def decode_manager(raw: bytes) -> Manager:
    """Inverse of ``encode_manager`` (unknown keys ignored)."""
    d = orjson.loads(raw)
    return Manager(**{k: v for k, v in d.items() if k in _MGR_FIELDS})


def customer_wire(c: Customer) -> dict[str, Any]:
    """The wire form of a profile (``type: customer`` event, decimal money, ISO time)."""
    d: dict[str, Any] = {"type": "customer", "customer_id": c.customer_id, "name": c.name,
                         "assets": format_money(c.assets)}
    for k in ("tier", "manager_id", "branch_id", "birthday", "segment", "age"):
        v = getattr(c, k)
        if v is not None:
            d[k] = v
    if c.last_activity_at is not None:
        d["last_activity_at"] = format_ts(c.last_activity_at)
    return d


async def load_directory(redis: aioredis.Redis, prefix: str) -> Directory:
    """All customers and managers from Redis into a process-local cache."""
    try:
        custs: dict[bytes, bytes] = await redis.hgetall(customers_key(prefix))  # type: ignore[misc]
        mgrs: dict[bytes, bytes] = await redis.hgetall(managers_key(prefix))  # type: ignore[misc]
    except RedisError as e:
        raise ServiceUnavailable(f"redis: loading the directory failed: "
                                 f"{type(e).__name__}") from None
    d = Directory()
    for raw in custs.values():
        d.put_customer(decode_customer(raw))
    for raw in mgrs.values():
        d.put_manager(decode_manager(raw))
    return d


async def save_directory(redis: aioredis.Redis, prefix: str, customers: Iterable[Customer],
                         managers: Iterable[Manager], chunk: int = 5000) -> tuple[int, int]:
    """Write profiles to the Redis hashes in pipelined chunks; returns (customers, managers)."""
    counts = [0, 0]
    for i, (key, items, enc) in enumerate((
            (customers_key(prefix), customers, encode_customer),
            (managers_key(prefix), managers, encode_manager))):
        batch: dict[str, bytes] = {}
        for obj in items:
            batch[obj.customer_id if i == 0 else obj.manager_id] = enc(obj)  # type: ignore[attr-defined]
            if len(batch) >= chunk:
                await redis.hset(key, mapping=batch)  # type: ignore[misc, arg-type]
                counts[i] += len(batch)
                batch = {}
        if batch:
            await redis.hset(key, mapping=batch)  # type: ignore[misc, arg-type]
            counts[i] += len(batch)
    return counts[0], counts[1]
