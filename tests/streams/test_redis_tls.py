"""A worker on a Redis that requires TLS and a password (how a bank runs it): a real
``redis-server`` with ``--tls-port`` and ``--requirepass``, started here; the worker reaches it
through ``ALERTING_REDIS_URL=rediss://:PASSWORD@host:port/0?ssl_ca_certs=ca.pem``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from local_tls import self_signed

from alerting.settings import Settings

from .broker import free_port
from .conftest import produce_events
from .redis_server import run_until_checkpointed, start_redis_server
from .test_cli import DATA, run
from .test_kafka_tls import RULE, withdrawal

pytestmark = pytest.mark.integration
PASSWORD = "redis-pa55-n0t-logged"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A redis-server that speaks only TLS and wants a password; yields (port, CA file)."""
    d = tmp_path_factory.mktemp("redis-tls")
    cert, key = self_signed(d)
    port = free_port()
    proc = start_redis_server(
        ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients",
         "no", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(d)],
        port)
    try:
        yield port, cert
    finally:
        proc.terminate()
        proc.wait(10)


async def test_a_worker_keeps_its_state_in_a_tls_redis_with_a_password(
        settings: Settings, tls_redis: tuple[int, Path], tmp_path: Path) -> None:
    port, ca = tls_redis
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE, encoding="utf-8")
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    s = settings.model_copy(update={"redis_url": url, "rules_path": rules,
                                    "runner": "asyncio", "web_enabled": False})
    await produce_events(s, [withdrawal(1)])
    r = aioredis.Redis.from_url(url)
    try:
        await run_until_checkpointed(s, r, 1)
    finally:
        await r.aclose()


def test_a_wrong_redis_password_is_one_line_without_it(tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    p = run(["worker"], {
        "ALERTING_REDIS_URL": f"rediss://:wrong-{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}",
        "ALERTING_RULES_PATH": str(DATA / "rules.yaml")})
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert lines == [f"alerting worker: redis unreachable (rediss://***@127.0.0.1:{port}/0"
                     f"?ssl_ca_certs={ca}): AuthenticationError"]
    assert PASSWORD not in p.stderr + p.stdout
