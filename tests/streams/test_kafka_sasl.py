"""A worker on a Kafka that requires a SASL login: the real Tansu broker behind ``sasl_proxy.py``
(the broker's SASL side, with users: Tansu 0.6 cannot store one), and Tansu's own
``--authentication``, which refuses every login in its own way (a SCRAM answer aiokafka reads
as a bare KeyError)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from alerting.settings import Settings
from alerting.streams.topics import ensure_topics

from .broker import Broker, free_port, start_broker
from .conftest import read_all
from .proxy import proxied_broker
from .sasl_proxy import SaslProxy
from .test_cli import DATA, run
from .test_kafka_tls import RULE, a_notification, withdrawal, worker_tasks

pytestmark = pytest.mark.integration
PASSWORD = "n0t-in-any-log"
USERS = {"alerting": PASSWORD, "notifier,bus=1": "an0ther-0ne"}  # ',' and '=' are escaped


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[tuple[Broker, SaslProxy]]:
    """Tansu advertising the SASL proxy's port, so every client connection logs in there."""
    with proxied_broker(lambda port, backend: SaslProxy(port, backend, USERS)) as pair:
        yield pair


def sasl(settings: Settings, broker: Broker | str, mechanism: str = "SCRAM-SHA-512",
         password: str = PASSWORD, **more: object) -> Settings:
    """``settings`` on ``broker`` (or a bootstrap address) with a SASL_PLAINTEXT login as
    "alerting"."""
    bootstrap = broker if isinstance(broker, str) else broker.bootstrap
    return settings.model_copy(update={
        "kafka_bootstrap": bootstrap, "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": mechanism, "kafka_sasl_username": "alerting",
        "kafka_sasl_password": SecretStr(password), **more})


@pytest.mark.parametrize(("runner", "mechanism"), [("faust", "SCRAM-SHA-512"),
                                                   ("asyncio", "SCRAM-SHA-256"),
                                                   ("asyncio", "PLAIN")])
async def test_a_worker_logs_in_and_works(settings: Settings, redis: aioredis.Redis,
                                          sasl_broker: tuple[Broker, SaslProxy], tmp_path: Path,
                                          runner: str, mechanism: str) -> None:
    broker, proxy = sasl_broker
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE, encoding="utf-8")
    s = sasl(settings, broker, mechanism, rules_path=rules, runner=runner, web_enabled=False)
    before = proxy.logins["alerting", mechanism]
    tasks = await worker_tasks(s, [withdrawal(1), withdrawal(2)])
    assert {t["customer_id"] for t in tasks} == {"C1", "C2"}
    # the worker's own clients logged in too (the test's producer and readers are two or three)
    assert proxy.logins["alerting", mechanism] - before > 4
    assert not proxy.refused


def test_a_login_the_broker_refuses_is_one_line_without_the_password(
        settings: Settings, sasl_broker: tuple[Broker, SaslProxy]) -> None:
    """A broker with users answers a wrong password with error 58, which aiokafka only logs
    ("Unable to bootstrap"): the worker still names the refused login, not an unreachable
    cluster."""
    broker, proxy = sasl_broker
    wrong = "wr0ng-pa55w0rd"
    s = sasl(settings, broker, "SCRAM-SHA-512", wrong, connect_timeout_s=5.0,
             rules_path=DATA / "rules.yaml")
    p = run(["worker"], s.environment())
    assert_refused(p, broker.bootstrap, "SaslAuthenticationFailed", wrong)
    assert proxy.refused["alerting", "SCRAM-SHA-512"] >= 1


def test_a_login_tansu_refuses_is_one_line_without_the_password() -> None:
    broker = start_broker(authentication=True)
    try:
        p = run(["worker"], {"ALERTING_KAFKA_BOOTSTRAP": broker.bootstrap,
                             "ALERTING_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                             "ALERTING_KAFKA_SASL_USERNAME": "alerting",
                             "ALERTING_KAFKA_SASL_PASSWORD": PASSWORD,
                             "ALERTING_CONNECT_TIMEOUT_S": "5",
                             "ALERTING_RULES_PATH": str(DATA / "rules.yaml")})
    finally:
        broker.stop()
    assert_refused(p, broker.bootstrap, "KeyError", PASSWORD)


def assert_refused(p: subprocess.CompletedProcess[str], bootstrap: str, why: str,
                   password: str) -> None:
    """The worker exited 2 with the one line of a refused SCRAM-SHA-512 login, no password."""
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [
        f"alerting worker: kafka at {bootstrap}: SASL SCRAM-SHA-512 login as 'alerting' "
        f"refused ({why}); check ALERTING_KAFKA_SASL_USERNAME, _PASSWORD and _MECHANISM"]
    assert password not in p.stderr + p.stdout


async def test_directory_load_logs_in(settings: Settings, redis: aioredis.Redis,
                                      sasl_broker: tuple[Broker, SaslProxy]) -> None:
    broker, proxy = sasl_broker
    s = sasl(settings, broker, "SCRAM-SHA-512")
    await ensure_topics(s)
    p = run(["directory", "load", str(DATA / "customers.csv"), str(DATA / "managers.csv"),
             "--kafka"], s.environment())
    assert p.returncode == 0, p.stderr
    assert PASSWORD not in p.stderr + p.stdout
    assert len(await read_all(s.kafka_bootstrap, s.topic_managers, sasl_mechanism="PLAIN",
                              security_protocol="SASL_PLAINTEXT", sasl_plain_username="alerting",
                              sasl_plain_password=PASSWORD)) > 3


async def test_a_kafka_notifier_logs_in_to_its_own_cluster(
        settings: Settings, sasl_broker: tuple[Broker, SaslProxy],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A kafka notifier naming another cluster logs in with its own user, its password from the
    environment (``env:``)."""
    from alerting.notifiers.config import KafkaConfig
    from alerting.notifiers.registry import NotifierDeps, build_notifier

    broker, proxy = sasl_broker
    user = "notifier,bus=1"
    monkeypatch.setenv("BUS_KAFKA_PASSWORD", USERS[user])
    s = sasl(settings, broker, "SCRAM-SHA-256", topic_tasks=f"{settings.topic_tasks}-bus")
    await ensure_topics(s)
    cfg = KafkaConfig.model_validate({
        "type": "kafka", "topic": s.topic_tasks, "bootstrap": broker.bootstrap,
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_username": user, "sasl_password": "env:BUS_KAFKA_PASSWORD"})
    notifier = build_notifier("bus", cfg, NotifierDeps())
    try:
        await notifier.send(a_notification())
    finally:
        await notifier.aclose()
    assert proxy.logins[user, "SCRAM-SHA-256"] >= 1
    assert len(await read_all(s.kafka_bootstrap, s.topic_tasks, security_protocol="SASL_PLAINTEXT",
                              sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="alerting",
                              sasl_plain_password=PASSWORD)) == 1


def test_no_broker_at_all_is_unreachable_not_a_refused_login(settings: Settings) -> None:
    port = free_port()  # nothing listens there
    s = sasl(settings, f"127.0.0.1:{port}", connect_timeout_s=5.0,
             rules_path=DATA / "rules.yaml")
    p = run(["worker"], s.environment())
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [
        f"alerting worker: kafka at 127.0.0.1:{port} unreachable over SASL_PLAINTEXT: "
        "KafkaConnectionError"]
