"""A worker on a Kafka that requires TLS: the real Tansu broker behind a TLS terminator
(``proxy.py``: Tansu 0.6 cannot serve TLS itself). SASL logins: ``test_kafka_sasl.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from local_tls import self_signed
from prometheus_client import CollectorRegistry

from alerting.kafka_auth import client_auth
from alerting.metrics import Metrics
from alerting.notifiers.base import Notification
from alerting.settings import Settings
from alerting.streams.app import run_worker
from alerting.streams.faust_app import serve
from alerting.streams.topics import ensure_topics

from .broker import Broker
from .conftest import produce_events, read_all, tasks_topic, wait_for
from .proxy import TlsProxy, proxied_broker
from .test_cli import DATA, run

pytestmark = pytest.mark.integration
RULE = """\
version: 1
rules:
  - {id: big, kind: threshold, severity: high, title: big,
     where: event.kind == "withdrawal" and event.amount >= 1000}
"""


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, TlsProxy,
                                                                         Path]]:
    """Tansu advertising a TLS port, and the terminator on that port; yields the CA file."""
    cert, key = self_signed(tmp_path_factory.mktemp("kafka-tls"))
    with proxied_broker(lambda port, backend: TlsProxy(port, backend, cert, key)) as (b, p):
        yield b, p, cert


def withdrawal(n: int) -> dict[str, Any]:
    return {"type": "transaction", "event_id": f"e{n}", "customer_id": f"C{n}",
            "account_id": "A1", "ts": f"2025-03-0{n}T10:00:00+08:00", "kind": "withdrawal",
            "amount": "5000.00", "channel": "counter"}


@pytest.mark.parametrize("runner", ["faust", "asyncio"])
async def test_a_worker_works_through_tls(settings: Settings, redis: aioredis.Redis,
                                          tls_broker: tuple[Broker, TlsProxy, Path],
                                          tmp_path: Path, runner: str) -> None:
    broker, proxy, ca = tls_broker
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE, encoding="utf-8")
    s = settings.model_copy(update={
        "kafka_bootstrap": broker.bootstrap, "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": ca, "rules_path": rules, "runner": runner, "web_enabled": False})
    before = proxy.handshakes
    tasks = await worker_tasks(s, [withdrawal(1), withdrawal(2)])
    assert {t["customer_id"] for t in tasks} == {"C1", "C2"}
    assert proxy.handshakes > before  # the worker's clients came in through TLS


async def worker_tasks(s: Settings, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Produce ``events``, run a worker (``s.runner``) until the tasks topic holds one task per
    event, and return those tasks."""
    await ensure_topics(s)
    await produce_events(s, events)
    stop = asyncio.Event()
    m = Metrics(CollectorRegistry())
    task = asyncio.create_task(serve(s, stop, metrics=m) if s.runner == "faust"
                               else run_worker(s, metrics=m, stop=stop))
    try:
        async def all_tasks() -> bool:
            assert not task.done(), task
            return len(await tasks_topic(s)) == len(events)
        await wait_for(all_tasks, 60, f"{len(events)} tasks")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return [orjson.loads(v) for v in await tasks_topic(s)]


def test_a_broker_certificate_from_another_ca_is_one_line_and_exit_2(
        tls_broker: tuple[Broker, TlsProxy, Path], tmp_path: Path) -> None:
    broker, _, _ = tls_broker
    other_ca, _ = self_signed(tmp_path / "other")
    p = run(["worker"], {"ALERTING_KAFKA_BOOTSTRAP": broker.bootstrap,
                         "ALERTING_KAFKA_SECURITY_PROTOCOL": "SSL",
                         "ALERTING_KAFKA_SSL_CAFILE": str(other_ca),
                         "ALERTING_CONNECT_TIMEOUT_S": "5",
                         "ALERTING_RULES_PATH": str(DATA / "rules.yaml")})
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"alerting worker: kafka at {broker.bootstrap} unreachable over SSL: "
        "KafkaConnectionError"]


async def test_a_kafka_notifier_without_a_bootstrap_publishes_on_the_workers_secured_cluster(
        settings: Settings, redis: aioredis.Redis, tls_broker: tuple[Broker, TlsProxy, Path],
        tmp_path: Path) -> None:
    """The dispatcher's kafka notifier reuses the worker's cluster and its TLS settings."""
    broker, _, ca = tls_broker
    rules = tmp_path / "rules.yaml"
    topic = f"{settings.topic_tasks}-notifications"
    rules.write_text(RULE + f"""\
routing:
  route: {{receiver: bus, group_by: [customer], group_wait: 0s}}
  receivers:
    - name: bus
      notifiers: [{{type: kafka, topic: {topic}}}]
""", encoding="utf-8")
    s = settings.model_copy(update={
        "kafka_bootstrap": broker.bootstrap, "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": ca, "rules_path": rules, "runner": "asyncio", "web_enabled": False,
        "dispatch": True})
    await ensure_topics(s)
    await ensure_topics(s.model_copy(update={"topic_tasks": topic}))  # the notifications topic
    await produce_events(s, [withdrawal(1)])
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(s, metrics=Metrics(CollectorRegistry()), stop=stop))
    got: list[dict[str, Any]] = []
    try:
        async def notified() -> bool:
            assert not task.done(), task
            got[:] = [orjson.loads(v) for _, v in
                      await read_all(s.kafka_bootstrap, topic, **client_auth(s))]
            return bool(got)
        await wait_for(notified, 60, "a notification on the topic")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    (n,) = got
    assert n["receiver"] == "bus" and len(n["tasks"]) == 1


async def test_a_kafka_notifier_with_its_own_secured_cluster(
        settings: Settings, tls_broker: tuple[Broker, TlsProxy, Path]) -> None:
    """A kafka notifier naming another cluster connects with its own TLS fields."""
    from alerting.notifiers.config import KafkaConfig
    from alerting.notifiers.registry import NotifierDeps, build_notifier

    broker, proxy, ca = tls_broker
    s = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap,
                                    "kafka_security_protocol": "SSL", "kafka_ssl_cafile": ca,
                                    "topic_tasks": f"{settings.topic_tasks}-bus"})
    await ensure_topics(s)  # the notifier's topic, on that cluster
    cfg = KafkaConfig.model_validate({"type": "kafka", "topic": s.topic_tasks,
                                      "bootstrap": broker.bootstrap,
                                      "security_protocol": "SSL", "ssl_cafile": str(ca)})
    notifier = build_notifier("bus", cfg, NotifierDeps())
    before = proxy.handshakes
    try:
        await notifier.send(a_notification())
    finally:
        await notifier.aclose()
    (got,) = [orjson.loads(v) for _, v in await read_all(s.kafka_bootstrap, s.topic_tasks,
                                                          **client_auth(s))]
    assert got["notification_id"] == "n-1"
    assert proxy.handshakes > before


def a_notification() -> Notification:
    """A notification of one task, as the dispatcher sends it."""
    return Notification(notification_id="n-1", receiver="bus", kind="task", recipient_id="m1",
                        recipient_name="m", recipient_email=None, locale="zh", title="t",
                        text="x", tasks=({"task_id": "t-1", "rule_id": "big", "revision": 0},),
                        created_at="2025-03-01T10:00:00+08:00")
