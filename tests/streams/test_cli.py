"""``alerting worker`` settings errors and ``alerting directory load`` (real Redis, real broker)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from alerting.errors import ConfigError
from alerting.settings import Settings, load_settings
from alerting.streams.directory import load_directory
from alerting.streams.faust_app import faust_settings
from alerting.streams.topics import producer_acks

from .broker import free_port
from .conftest import read_all, wait_ready

EXE = str(Path(sys.executable).parent / "alerting")
DATA = Path(__file__).resolve().parents[2] / "alerting" / "data"


def run(args: list[str], env: dict[str, str], timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=timeout)


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTING_KAFKA_BOOTSTRAP", "no-port-here")
    with pytest.raises(ConfigError, match="ALERTING_KAFKA_BOOTSTRAP"):
        load_settings()


def test_a_zero_fetch_wait_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a 0 ms fetch wait Tansu 0.6 never returns records: the worker would consume
    nothing, silently."""
    monkeypatch.setenv("ALERTING_FETCH_MAX_WAIT_MS", "0")
    with pytest.raises(ConfigError, match="ALERTING_FETCH_MAX_WAIT_MS"):
        load_settings()


def test_defaults_are_the_short_tansu_timeouts() -> None:
    s = Settings()  # type: ignore[call-arg]  # pydantic-settings: every field has a default
    assert (s.session_timeout_ms, s.heartbeat_interval_ms, s.rebalance_timeout_ms) == (
        2000, 500, 2000)


def test_help_lists_the_settings() -> None:
    out = run(["worker", "--help"], {"COLUMNS": "200"}).stdout
    for name in ("ALERTING_KAFKA_BOOTSTRAP", "ALERTING_REDIS_URL", "ALERTING_RULES_PATH",
                 "ALERTING_WATERMARK", "ALERTING_SESSION_TIMEOUT_MS", "ALERTING_WEB_PORT",
                 "ALERTING_KAFKA_ACKS", "ALERTING_KAFKA_IDEMPOTENCE"):
        assert name in out


def test_producers_wait_for_all_replicas_by_default_and_idempotence_needs_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.kafka_acks, s.kafka_idempotence) == ("all", False)
    assert producer_acks(s) == faust_settings(s)["producer_acks"] == -1  # -1: all replicas
    leader = load_settings(kafka_acks="1")
    assert producer_acks(leader) == faust_settings(leader)["producer_acks"] == 1
    monkeypatch.setenv("ALERTING_KAFKA_IDEMPOTENCE", "true")
    monkeypatch.setenv("ALERTING_KAFKA_ACKS", "1")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert str(e.value) == ("settings: ALERTING_KAFKA_IDEMPOTENCE=true needs "
                            "ALERTING_KAFKA_ACKS=all (an idempotent producer waits for every "
                            "in-sync replica), not 1")
    monkeypatch.setenv("ALERTING_KAFKA_ACKS", "0")
    with pytest.raises(ConfigError, match="ALERTING_KAFKA_ACKS"):
        load_settings()


@pytest.mark.integration
@pytest.mark.parametrize("runner", ["faust", "asyncio"])
def test_idempotence_on_a_broker_without_it_is_one_line_naming_the_setting(
        settings: Settings, runner: str) -> None:
    """Tansu answers the InitProducerId request an idempotent producer makes at its start
    with an error: the worker stops there, exit code 2, with the setting to change (not
    aiokafka's 'UnknownError', nor "unreachable": the broker did answer)."""
    env = {**settings.environment(), "ALERTING_RULES_PATH": str(DATA / "rules.yaml"),
           "ALERTING_RUNNER": runner, "ALERTING_KAFKA_IDEMPOTENCE": "true"}
    p = run(["worker"], env)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [
        "alerting worker: setting ALERTING_KAFKA_IDEMPOTENCE: kafka at "
        f"{settings.kafka_bootstrap} refused an idempotent producer (UnknownError); set it "
        "to false on a broker without idempotent producers (such as the test broker, Tansu)"]


@pytest.mark.integration
def test_unreachable_kafka_is_one_line_and_exit_2() -> None:
    port = free_port()  # nothing listens there
    p = run(["worker"], {"ALERTING_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
                         "ALERTING_CONNECT_TIMEOUT_S": "3",
                         "ALERTING_RULES_PATH": str(DATA / "rules.yaml")})
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"alerting worker: kafka at 127.0.0.1:{port} unreachable: KafkaConnectionError"]


@pytest.mark.integration
def test_unreachable_redis_is_one_line_and_exit_2() -> None:
    port = free_port()
    p = run(["worker"], {"ALERTING_REDIS_URL": f"redis://:s3cret@127.0.0.1:{port}/0",
                         "ALERTING_RULES_PATH": str(DATA / "rules.yaml")})
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "redis unreachable" in lines[0]
    assert "s3cret" not in p.stderr


@pytest.mark.integration
async def test_directory_load_to_redis_and_kafka(settings: Settings, redis: aioredis.Redis
                                                 ) -> None:
    env = settings.environment()
    p = run(["directory", "load", str(DATA / "customers.csv"), str(DATA / "managers.csv"),
             "--kafka"], env)
    assert p.returncode == 0, p.stderr
    d = await load_directory(redis, settings.redis_prefix)
    assert len(d.customers) > 10 and len(d.managers) > 3
    some = next(iter(d.customers.values()))
    recs = await read_all(settings.kafka_bootstrap, settings.topic_customers)
    assert len(recs) == len(d.customers)
    wire = {k.decode(): orjson.loads(v) for k, v in recs if k}
    assert wire[some.customer_id]["type"] == "customer"
    mgr = await read_all(settings.kafka_bootstrap, settings.topic_managers)
    assert len(mgr) == len(d.managers)


@pytest.mark.integration
async def test_worker_serves_health_and_metrics(settings: Settings) -> None:
    import signal

    import httpx

    port = free_port()
    s = settings.model_copy(update={"rules_path": DATA / "rules.yaml", "web_enabled": True,
                                    "web_port": port})
    env = {**os.environ, **s.environment()}
    proc = subprocess.Popen([EXE, "worker"], env=env, stderr=subprocess.PIPE)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            def alive() -> None:
                assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            await wait_ready(c, alive, "the worker ready")
            assert (await c.get("/healthz")).json() == {"status": "ok"}
            assert "alerting_checkpoint_seconds" in (await c.get("/metrics")).text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
