"""Console, JSON-lines file, Redis inbox (real Redis) and Kafka notifiers."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from pydantic import TypeAdapter

from alerting.errors import ConfigError, PermanentNotifierError, RetryableNotifierError
from alerting.notifiers.base import Notification
from alerting.notifiers.config import NotifierConfig
from alerting.notifiers.kafka import build_record
from alerting.notifiers.redis_inbox import inbox_key
from alerting.notifiers.registry import NotifierDeps, build_notifier

CFG: TypeAdapter[NotifierConfig] = TypeAdapter(NotifierConfig)


def build(raw: dict[str, Any], deps: NotifierDeps | None = None):
    return build_notifier("x", CFG.validate_python(raw), deps or NotifierDeps())


async def test_console_writes_title_recipient_and_text(make_notification):
    out = io.StringIO()
    n = make_notification()
    await build({"type": "console"}, NotifierDeps(stream=out)).send(n)
    assert n.title in out.getvalue() and n.text in out.getvalue()
    out.close()
    with pytest.raises(RetryableNotifierError):
        await build({"type": "console"}, NotifierDeps(stream=out)).send(n)


async def test_file_appends_one_json_line_each(tmp_path, make_notification):
    path = tmp_path / "out.jsonl"
    f = build({"type": "file", "path": str(path), "fsync": True})
    ns = [make_notification() for _ in range(3)]
    for n in ns:
        await f.send(n)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [Notification.from_json(line) for line in lines] == ns
    missing = build({"type": "file", "path": str(tmp_path / "no" / "dir.jsonl")})
    with pytest.raises(RetryableNotifierError, match="FileNotFoundError"):
        await missing.send(ns[0])


@pytest.mark.integration
async def test_redis_inbox_per_manager_capped(redis_client, redis_prefix, make_notification):
    inbox = build({"type": "redis_inbox", "prefix": redis_prefix, "max_len": 3},
                  NotifierDeps(redis=redis_client))
    ns = [make_notification(recipient_id="m-7") for _ in range(5)]
    for n in ns:
        await inbox.send(n)
    await inbox.send(make_notification(recipient_id="m-8"))
    raw = await redis_client.lrange(inbox_key(redis_prefix, "m-7"), 0, -1)
    assert [Notification.from_json(r) for r in raw] == ns[:1:-1]  # newest first, 3 kept
    assert await redis_client.llen(inbox_key(redis_prefix, "m-8")) == 1
    with pytest.raises(PermanentNotifierError, match="recipient_id"):
        await inbox.send(make_notification(recipient_id=None))
    await inbox.aclose()
    assert await redis_client.ping()  # a client passed in stays open


@pytest.mark.integration
async def test_redis_inbox_unreachable_is_retryable(make_notification, free_port):
    inbox = build({"type": "redis_inbox", "url": f"redis://127.0.0.1:{free_port()}/0"})
    with pytest.raises(RetryableNotifierError, match="redis"):
        await inbox.send(make_notification())
    await inbox.aclose()


class RecordingProducer:
    """Stands in for a started AIOKafkaProducer. The real Tansu broker fixture belongs to the
    streams suite (tests/streams/conftest.py); here only the record building and the error
    translation are checked, so this is a mock and says so."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.error = error

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((topic, key, value))


async def test_kafka_record_key_and_value(make_notification):
    producer = RecordingProducer()
    k = build({"type": "kafka", "topic": "alerting.notifications"},
              NotifierDeps(kafka_producer=producer))
    n = make_notification()
    await k.send(n)
    [(topic, key, value)] = producer.sent
    assert (topic, key) == ("alerting.notifications", b"m-001")
    assert json.loads(value) == n.to_dict()
    no_recipient = make_notification(recipient_id=None)
    assert build_record(no_recipient)[0] == no_recipient.tasks[0]["task_id"].encode()
    assert build_record(make_notification(recipient_id=None, tasks=()))[0] is None
    await k.aclose()


async def test_kafka_notifier_with_its_own_cluster_never_uses_the_workers(make_notification):
    """A ``bootstrap`` names another cluster: the worker's producer (or factory) is not used;
    without one, a producer from the worker's factory is started on first send."""
    lent, made = RecordingProducer(), RecordingProducer()
    made.start = made.stop = _noop  # type: ignore[method-assign]
    deps = NotifierDeps(kafka_producer=lent, kafka_client=lambda: made)
    other = build({"type": "kafka", "topic": "t", "bootstrap": "elsewhere:9092"}, deps)
    assert other._producer is None and other._factory is None  # noqa: SLF001
    own = build({"type": "kafka", "topic": "t"}, NotifierDeps(kafka_client=lambda: made))
    await own.send(make_notification())
    assert [t for t, _, _ in made.sent] == ["t"] and lent.sent == []
    await own.aclose()


async def _noop() -> None:
    return None


@pytest.mark.parametrize(("raw", "message"), [
    ({"security_protocol": "SSL", "ssl_cafile": "ca.pem"}, "need a bootstrap of the notifier's"),
    ({"bootstrap": "bus:9093", "security_protocol": "SASL_SSL", "sasl_username": "u"},
     "sasl_username and sasl_password are required"),
    ({"bootstrap": "bus:9093", "security_protocol": "SSL", "ssl_certfile": "c.pem"},
     "ssl_certfile and ssl_keyfile go together"),
])
def test_kafka_notifier_security_is_checked_with_the_rules(raw, message):
    with pytest.raises(ValueError, match=message):
        CFG.validate_python({"type": "kafka", "topic": "t", **raw})


def test_kafka_notifier_secrets_come_from_the_environment_when_built(monkeypatch):
    raw = {"type": "kafka", "topic": "t", "bootstrap": "bus:9093",
           "security_protocol": "SASL_PLAINTEXT", "sasl_username": "alerting",
           "sasl_password": "env:BUS_KAFKA_PASSWORD"}
    monkeypatch.delenv("BUS_KAFKA_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="sasl_password: environment variable 'BUS_KAFKA_"):
        build(raw)
    monkeypatch.setenv("BUS_KAFKA_PASSWORD", "from-the-vault")
    k = build(raw)
    assert k._security.password == "from-the-vault"  # noqa: SLF001


@pytest.mark.parametrize(("error", "expected"), [
    (KafkaTimeoutError(), RetryableNotifierError),
    (MessageSizeTooLargeError(), PermanentNotifierError),
])
async def test_kafka_errors_are_translated(make_notification, error, expected):
    deps = NotifierDeps(kafka_producer=RecordingProducer(error))
    k = build({"type": "kafka", "topic": "t"}, deps)
    with pytest.raises(expected):
        await k.send(make_notification())


@pytest.mark.integration
async def test_kafka_notifier_against_real_broker(kafka_bootstrap, make_notification):
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"notifications-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await admin.close()
    k = build({"type": "kafka", "topic": topic, "bootstrap": kafka_bootstrap})
    ns = [make_notification(recipient_id=f"m-{i}") for i in range(3)]
    for n in ns:
        await k.send(n)
    await k.aclose()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        got: list[tuple[bytes | None, bytes]] = []
        deadline = asyncio.get_running_loop().time() + 10
        while len(got) < 3 and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            got += [(r.key, r.value) for recs in batch.values() for r in recs]
    finally:
        await consumer.stop()
    assert [(key, Notification.from_json(v)) for key, v in got] == [
        (f"m-{i}".encode(), n) for i, n in enumerate(ns)]
