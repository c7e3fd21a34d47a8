"""Topic declarations, creation if absent, and Kafka/Redis connection helpers that translate the
libraries' errors into ``ServiceUnavailable`` with one clear line."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    BrokerResponseError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)
from aiokafka.partitioner import murmur2
from redis.exceptions import RedisError

from alerting.errors import ConfigError, ServiceUnavailable
from alerting.kafka_auth import client_auth
from alerting.redis_client import open_redis
from alerting.settings import Settings

COMPACTED = {"cleanup.policy": "compact"}


def topic_specs(s: Settings) -> dict[str, dict[str, str]]:
    """Every topic the worker uses and its configs (inputs are keyed by customer_id)."""
    return {
        s.topic_transactions: {},
        s.topic_complaints: {},
        s.topic_customers: COMPACTED,
        s.topic_managers: COMPACTED,
        s.topic_tasks: {},
        s.topic_dead_letter: {},
    }


async def ensure_topics(s: Settings) -> list[str]:
    """Create the missing topics with ``s.partitions`` partitions; returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap,
                                request_timeout_ms=s.request_timeout_ms, **client_auth(s))
    try:
        await start_kafka(admin, s)
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, num_partitions=s.partitions, replication_factor=1,
                            topic_configs=cfg)
                   for name, cfg in topic_specs(s).items() if name not in existing]
        if missing:
            # another worker may create them at the same time
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    except (KafkaError, OSError, TimeoutError) as e:
        raise ServiceUnavailable(f"kafka at {s.kafka_bootstrap} unreachable: "
                                 f"{type(e).__name__}") from None
    finally:
        await admin.close()


def producer_acks(s: Settings) -> int:
    """``ALERTING_KAFKA_ACKS`` as the Kafka protocol counts it (-1 = all in-sync replicas)."""
    return -1 if s.kafka_acks == "all" else int(s.kafka_acks)


def new_producer(s: Settings) -> AIOKafkaProducer:
    """A producer of the worker (tasks and dead letters, the dispatcher's kafka notifiers,
    ``alerting directory load``) with the settings' acks and idempotence."""
    return AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks=producer_acks(s),
                            enable_idempotence=s.kafka_idempotence, linger_ms=1,
                            max_batch_size=256 * 1024, request_timeout_ms=s.request_timeout_ms,
                            **client_auth(s))


def new_consumer(s: Settings, group_id: str | None, **kw: Any) -> AIOKafkaConsumer:
    """A consumer with the settings' group timeouts and no auto commit (offsets live in the
    checkpoint)."""
    opts: dict[str, Any] = dict(
        bootstrap_servers=s.kafka_bootstrap, group_id=group_id, enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=s.session_timeout_ms,
        heartbeat_interval_ms=s.heartbeat_interval_ms,
        rebalance_timeout_ms=s.rebalance_timeout_ms, request_timeout_ms=s.request_timeout_ms,
        max_poll_interval_ms=max(s.session_timeout_ms * 5, 60000),
        fetch_max_wait_ms=s.fetch_max_wait_ms, **client_auth(s))
    opts.update(kw)  # the caller's options win (e.g. a longer fetch wait)
    return AIOKafkaConsumer(**opts)


async def start_kafka(client: AIOKafkaConsumer | AIOKafkaProducer | AIOKafkaAdminClient,
                      s: Settings) -> None:
    """Start a client within the connect timeout or raise ``ServiceUnavailable``: a refused
    SASL login says so (naming what to check, never the password), anything else says the
    cluster is unreachable."""
    try:
        await asyncio.wait_for(client.start(), s.connect_timeout_s)
    except Exception as e:  # noqa: BLE001 - translated below, or raised as it is
        network = isinstance(e, KafkaError | OSError | TimeoutError)
        if s.kafka_security_protocol.startswith("SASL_"):
            # aiokafka reports a refused login as "Unable to bootstrap" (the broker's error
            # code 58 is only logged), or from some brokers as a bare KeyError (a SCRAM final
            # message without 'v'): ask one broker directly which it was
            why = await _login_refusal(s) if network else type(e).__name__
            if why is not None:
                raise ServiceUnavailable(
                    f"kafka at {s.kafka_bootstrap}: SASL {s.kafka_sasl_mechanism} login as "
                    f"{s.kafka_sasl_username!r} refused ({why}); check "
                    "ALERTING_KAFKA_SASL_USERNAME, _PASSWORD and _MECHANISM") from None
        if s.kafka_idempotence and isinstance(client, AIOKafkaProducer) and isinstance(
                e, BrokerResponseError):
            # the broker answered, and refused the producer id an idempotent producer asks
            # for at its start (Tansu: UnknownError; a cluster without the ACL for it:
            # ClusterAuthorizationFailedError)
            raise ConfigError(
                f"setting ALERTING_KAFKA_IDEMPOTENCE: kafka at {s.kafka_bootstrap} refused an "
                f"idempotent producer ({type(e).__name__}); set it to false on a broker "
                "without idempotent producers (such as the test broker, Tansu)") from None
        if not network:
            raise
        how = "" if s.kafka_security_protocol == "PLAINTEXT" else \
            f" over {s.kafka_security_protocol}"
        raise ServiceUnavailable(f"kafka at {s.kafka_bootstrap} unreachable{how}: "
                                 f"{type(e).__name__}") from None


async def _login_refusal(s: Settings) -> str | None:
    """The error name if the first bootstrap broker refuses the SASL login, else None (it is
    unreachable, or it lets the login through)."""
    host, _, port = s.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    try:
        conn = await asyncio.wait_for(
            create_conn(host, int(port), request_timeout_ms=s.request_timeout_ms,
                        **client_auth(s)), s.connect_timeout_s)
    except (SaslAuthenticationFailed, UnsupportedSaslMechanismError, KeyError) as e:
        return type(e).__name__
    except Exception:  # noqa: BLE001 - not a refused login: the caller says unreachable
        return None
    conn.close()
    return None


async def connect_redis(s: Settings) -> aioredis.Redis:
    """An async Redis client (bytes responses) after a successful PING."""
    try:
        r = open_redis(s.redis_url, s.redis_sentinels, s.redis_sentinel_master,
                       s.redis_cluster, socket_connect_timeout=s.connect_timeout_s)
    except (ValueError, ConfigError) as e:
        raise ServiceUnavailable(f"redis URL invalid: {e}") from None
    try:
        await r.ping()  # type: ignore[misc]
    except (RedisError, OSError) as e:
        await r.aclose()
        where = (_redacted(s.redis_url) if not s.redis_sentinels else
                 f"master {s.redis_sentinel_master!r} of sentinels {s.redis_sentinels}")
        raise ServiceUnavailable(f"redis unreachable ({where}): {type(e).__name__}") from None
    return r


def _redacted(url: str) -> str:
    """The URL without a password (secrets stay out of error messages)."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


def partition_of(customer_id: str, partitions: int) -> int:
    """The input partition of a customer (the Java/aiokafka default murmur2 partitioner)."""
    return (murmur2(customer_id.encode()) & 0x7FFFFFFF) % partitions
