"""Opening the Redis client: one server from ``ALERTING_REDIS_URL``, the master of a Redis
Sentinel group (``ALERTING_REDIS_SENTINELS``), or a Redis Cluster (``ALERTING_REDIS_CLUSTER``),
the ways banks run Redis for high availability. With Sentinel the client asks the sentinels for
the current master, and asks again after a failover; the URL then gives only the password, the
database and TLS. With Cluster the URL names any node; every key the project writes must hash
to one slot (a checkpoint is one transaction over several keys), so the key prefix must carry a
hash tag, e.g. ``{alerting}:``: the data then lives on one shard (and its replicas).
"""

from __future__ import annotations

import os
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.sentinel import Sentinel

from alerting.errors import ConfigError

CLUSTER_ENV = "ALERTING_REDIS_CLUSTER"
SENTINELS_ENV = "ALERTING_REDIS_SENTINELS"
MASTER_ENV = "ALERTING_REDIS_SENTINEL_MASTER"
DEFAULT_MASTER = "mymaster"


def parse_sentinels(value: str) -> list[tuple[str, int]]:
    """``"host:port,host:port"`` → [(host, port), ...]; ValueError if malformed."""
    out = []
    for part in value.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("must be host:port[,host:port...]")
        out.append((host, int(port)))
    return out


def has_hash_tag(prefix: str) -> bool:
    """Does ``prefix`` carry a Redis Cluster hash tag (``{...}`` with something inside, the
    first ``{`` of the key)? Then every key under it hashes to the same slot."""
    start = prefix.find("{")
    end = prefix.find("}", start + 1)
    return start >= 0 and end > start + 1


def open_redis(url: str, sentinels: str | None = None, master: str = DEFAULT_MASTER,
               cluster: bool = False, **kw: Any) -> aioredis.Redis:
    """A client on ``url``; on the master that ``sentinels`` name for ``master`` (the URL's
    host and port are then unused); or, with ``cluster``, on the Redis Cluster of which ``url``
    names a node. ``kw``: more connection arguments (timeouts)."""
    if cluster:
        from redis.asyncio.cluster import RedisCluster

        client: Any = RedisCluster.from_url(url, **kw)
        return client  # the same commands as the single-node client for everything used here
    if not sentinels:
        return aioredis.Redis.from_url(url, **kw)
    try:
        hosts = parse_sentinels(sentinels)
        opts: dict[str, Any] = dict(parse_url(url))
    except ValueError as e:
        raise ConfigError(f"redis sentinel settings: {e}") from None
    opts.pop("host", None)
    opts.pop("port", None)
    if opts.pop("connection_class", None) is SSLConnection:
        opts["ssl"] = True  # the sentinel pool picks its TLS connection class from this
    timeouts = {k: v for k, v in kw.items() if k.startswith("socket_")}
    group = Sentinel(hosts, sentinel_kwargs=timeouts, **opts, **kw)
    return group.master_for(master, redis_class=aioredis.Redis)


def open_redis_from_env(url: str, **kw: Any) -> aioredis.Redis:
    """``open_redis`` for the command-line tools: Sentinel from the same environment
    variables as the worker."""
    return open_redis(url, os.environ.get(SENTINELS_ENV) or None,
                      os.environ.get(MASTER_ENV) or DEFAULT_MASTER,
                      os.environ.get(CLUSTER_ENV, "").lower() in ("1", "true", "yes"), **kw)
