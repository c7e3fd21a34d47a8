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
        custs: dict[bytes, bytes] = await redis.hgetall(  # type: ignore[assignment, misc]
            customers_key(prefix))
        mgrs: dict[bytes, bytes] = await redis.hgetall(  # type: ignore[assignment, misc]
            managers_key(prefix))
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
    rows_c = ((c.customer_id, encode_customer(c)) for c in customers)
    rows_m = ((m.manager_id, encode_manager(m)) for m in managers)
    n_c = await _hset_chunked(redis, customers_key(prefix), rows_c, chunk)
    n_m = await _hset_chunked(redis, managers_key(prefix), rows_m, chunk)
    return n_c, n_m


async def _hset_chunked(redis: aioredis.Redis, key: str, rows: Iterable[tuple[str, bytes]],
                        chunk: int) -> int:
    n = 0
    batch: dict[str, bytes] = {}
    for k, v in rows:
        batch[k] = v
        if len(batch) >= chunk:
            await redis.hset(key, mapping=batch)  # type: ignore[misc, arg-type]
            n += len(batch)
            batch = {}
    if batch:
        await redis.hset(key, mapping=batch)  # type: ignore[misc, arg-type]
        n += len(batch)
    return n
