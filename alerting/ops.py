"""Small operational helpers for the hosts (Kafka worker, embedded ``alerting run``).

- ``start_metrics_server``: ``/metrics``, ``/healthz`` and ``/readyz`` on a background thread,
  for ``alerting run --metrics-port`` (the embedded run may be synchronous: no event loop).
- ``serve_health``: the same routes plus ``POST /-/reload`` as an aiohttp app on the running
  loop, for an asyncio host that has no web app of its own.
- ``redis_ready`` / ``all_ready``: readiness checks to pass as ``ready_check``.
- ``record_tasks``: count and log the tasks an engine emitted (one line per task).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alerting.logs import log_task_created
from alerting.metrics import Metrics
from alerting.tasks import Task
from alerting.web.health import ReadyCheck, Reloadable, add_health_routes

log = logging.getLogger(__name__)


class MetricsServer:
    """A threaded HTTP server for ``/metrics``, ``/healthz`` and ``/readyz``."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and join the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(
    port: int,
    registry: CollectorRegistry,
    *,
    host: str = "0.0.0.0",
    ready: Callable[[], bool] | None = None,
) -> MetricsServer:
    """Serve metrics and health on ``host:port`` from a daemon thread (port 0 = a free port).
    ``ready`` is a synchronous readiness check (default: always ready)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b'{"status": "ok"}\n', "application/json")
            elif path == "/readyz":
                ok = _safe_ready(ready)
                body = b'{"status": "ready"}\n' if ok else b'{"status": "not_ready"}\n'
                self._send(200 if ok else 503, body, "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # scrapes every few seconds would flood the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="alerting-metrics", daemon=True)
    thread.start()
    log.info("metrics server listening", extra={"host": host, "port": server.server_address[1]})
    return MetricsServer(server, thread)


def _safe_ready(ready: Callable[[], bool] | None) -> bool:
    if ready is None:
        return True
    try:
        return bool(ready())
    except Exception as exc:  # noqa: BLE001 - not ready, never a crash of the server thread
        log.warning("readiness check failed: %s", type(exc).__name__)
        return False


async def serve_health(
    host: str,
    port: int,
    *,
    metrics_registry: CollectorRegistry,
    ready_check: ReadyCheck,
    reloader: Reloadable | None = None,
) -> web.AppRunner:
    """Run the health routes as their own aiohttp app on the running loop; returns the runner
    (``await runner.cleanup()`` to stop)."""
    app = web.Application()
    add_health_routes(app, metrics_registry=metrics_registry, ready_check=ready_check,
                      reloader=reloader)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def redis_ready(client: Any) -> ReadyCheck:
    """A readiness check that PINGs an asyncio Redis client."""

    async def check() -> bool:
        return bool(await client.ping())

    return check


def all_ready(*checks: Callable[[], Awaitable[bool]] | Callable[[], bool]) -> ReadyCheck:
    """Ready when every check is (checks may be sync or async; evaluated in order)."""

    async def check() -> bool:
        for c in checks:
            value = c()
            if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
                value = await value
            if not value:
                return False
        return True

    return check


def record_tasks(metrics: Metrics, tasks: Iterable[Task], log_: logging.Logger | None = None,
                 *, latency_s: float | None = None) -> int:
    """Count emitted tasks (created at revision 0, updated otherwise), write one log line per
    task and, if given, observe the event→task latency once per task. Returns the count."""
    out = log_ or logging.getLogger("alerting.tasks")
    n = 0
    for task in tasks:
        if task.revision == 0:
            metrics.tasks_created.labels(rule=task.rule_id, severity=task.severity).inc()
        else:
            metrics.tasks_updated.labels(rule=task.rule_id).inc()
        if latency_s is not None:
            metrics.event_task_latency.observe(max(latency_s, 0.0))
        log_task_created(out, task)
        n += 1
    return n


class EngineStatsRecorder:
    """Turns an engine's cumulative ``stats`` into metric increments (for hosts that do not
    count per event): duplicates and late events under ``alerting_events_total{outcome}``,
    hits inside a cooldown under ``alerting_suppressed_total{reason="cooldown"}``. Call
    ``record(engine.stats)`` after each batch; only the change since the last call counts.
    ``count_late=False`` for a host that counts late events itself (the Kafka worker's shards,
    per topic)."""

    def __init__(self, metrics: Metrics, topic: str = "file", count_late: bool = True) -> None:
        self._m = metrics
        self._topic = topic
        self._outcomes = (("duplicates", "duplicate"), ("late", "late"))[:2 if count_late else 1]
        self._last: dict[str, Any] = {"duplicates": 0, "late": 0, "suppressed": {}}

    def record(self, stats: Any) -> None:
        """Add what changed since the previous call."""
        for attr, outcome in self._outcomes:
            now = int(getattr(stats, attr, 0))
            if now > self._last[attr]:
                self._m.events.labels(topic=self._topic, outcome=outcome).inc(
                    now - self._last[attr])
            self._last[attr] = now
        prev: dict[str, int] = self._last["suppressed"]
        current = dict(getattr(stats, "suppressed", {}))
        for rule, count in current.items():
            if count > prev.get(rule, 0):
                self._m.suppressed.labels(rule=rule, reason="cooldown").inc(
                    count - prev.get(rule, 0))
        self._last["suppressed"] = current


class LiveRules:
    """The active rule set of a host with several engines (one per partition): ``factory``
    builds engines for partitions assigned later with the current rules, ``apply`` (the
    reloader's callback) swaps a new rule set into every live engine. ``engines`` is a callable
    returning the live engines, bound when the host exists (``bind``)."""

    def __init__(self, ruleset: Any, engines: Callable[[], Iterable[Any]] | None = None) -> None:
        self.ruleset = ruleset
        self._engines: Callable[[], Iterable[Any]] = engines or (lambda: ())
        self._preparers: list[Callable[[Any], Callable[[], None]]] = []

    def on_apply(self, prepare: Callable[[Any], Callable[[], None]]) -> None:
        """Swap more than the engines on each apply (the dispatcher's routing): ``prepare(
        ruleset)`` checks and builds what the new rules need, before anything is swapped, and
        may raise (the reload is then rejected, nothing changes); the callable it returns
        swaps it in after the engines."""
        self._preparers.append(prepare)

    def bind(self, engines: Callable[[], Iterable[Any]]) -> None:
        """Tell where the live engines are (e.g. ``lambda: [s.engine for s in
        worker.shards.values()]``)."""
        self._engines = engines

    def factory(self, directory: Any) -> Any:
        """A new engine with the current rules (the worker's ``engine_factory``)."""
        from alerting.engine import Engine

        return Engine(self.ruleset, directory)

    def apply(self, ruleset: Any) -> None:
        """Swap ``ruleset`` into every live engine (and what ``on_apply`` registered); later
        engines get it too."""
        commits = [prepare(ruleset) for prepare in self._preparers]
        for engine in list(self._engines()):
            engine.swap_rules(ruleset)
        self.ruleset = ruleset
        for commit in commits:
            commit()
