"""Kafka notifier: the notification JSON to a topic, key = recipient id (or first task id).

A notifier with a ``bootstrap`` of its own creates a producer for that cluster on first use,
with its own ``security_protocol``, ``sasl_*`` and ``ssl_*`` fields; without one it uses the
started producer passed in, or one made by the worker's ``factory`` (the worker's cluster and
security settings), started on first use. A producer it
started is stopped by :meth:`KafkaNotifier.aclose`. Downstream consumers dedup on
``notification_id`` (a retry after an unknown outcome may write twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from alerting.errors import ConfigError, PermanentNotifierError, RetryableNotifierError
from alerting.kafka_auth import KafkaSecurity, client_auth
from alerting.notifiers.base import Notification, RetryPolicy
from alerting.notifiers.config import KafkaConfig, resolve_secret


def message_key(n: Notification) -> bytes | None:
    """Partition key: the recipient, so one manager's notifications stay in order."""
    if n.recipient_id:
        return n.recipient_id.encode()
    if n.tasks and n.tasks[0].get("task_id"):
        return str(n.tasks[0]["task_id"]).encode()
    return None


def build_record(n: Notification) -> tuple[bytes | None, bytes]:
    """(key, value) of the Kafka record for ``n``."""
    return message_key(n), n.to_json().encode()


class KafkaNotifier:
    """Sends to ``cfg.topic`` and waits for the broker's acknowledgement."""

    def __init__(self, name: str, cfg: KafkaConfig, *, producer: Any | None,
                 retry: RetryPolicy, factory: Callable[[], Any] | None = None) -> None:
        if producer is None and factory is None and not cfg.bootstrap:
            raise ConfigError(f"notifier {name!r}: kafka needs 'bootstrap' (no producer given)")
        self.name = name
        self.retry = retry
        self._topic = cfg.topic
        self._bootstrap = cfg.bootstrap
        self._factory = factory
        self._security = _security(name, cfg) if cfg.bootstrap else None
        self._producer = producer
        self._own = producer is None

    async def _get_producer(self) -> Any:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            if self._security is not None:
                producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all",
                                            **client_auth(self._security))
            else:
                assert self._factory is not None  # checked in __init__
                producer = self._factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()  # release the half-started client before retrying
                raise
            self._producer = producer
        return self._producer

    async def send(self, n: Notification) -> None:
        """Produce one record; too-large is permanent, other Kafka errors retryable."""
        key, value = build_record(n)
        try:
            producer = await self._get_producer()
            await producer.send_and_wait(self._topic, value=value, key=key)
        except MessageSizeTooLargeError:
            raise PermanentNotifierError("kafka message too large") from None
        except (KafkaError, OSError) as exc:
            raise RetryableNotifierError(f"kafka error ({type(exc).__name__})") from None

    async def aclose(self) -> None:
        """Stop the producer if this notifier created it."""
        if self._own and self._producer is not None:
            await self._producer.stop()
            self._producer = None


def _security(name: str, cfg: KafkaConfig) -> KafkaSecurity:
    """The notifier's own cluster's security; ``env:`` secrets resolved now, so that a missing
    one fails the build (a start, or a reload that is then rejected), not the first send."""
    field = f"notifier {name!r}"
    sec = KafkaSecurity(
        cfg.security_protocol, cfg.sasl_mechanism, cfg.sasl_username,
        resolve_secret(cfg.sasl_password, field=f"{field}.sasl_password"),
        cfg.ssl_cafile, cfg.ssl_certfile, cfg.ssl_keyfile,
        resolve_secret(cfg.ssl_key_password, field=f"{field}.ssl_key_password"),
        cfg.ssl_check_hostname, files=f"{field}: ssl_cafile / ssl_certfile / ssl_keyfile")
    client_auth(sec)  # a TLS file that cannot be used fails here too
    return sec
