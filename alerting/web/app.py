"""The web app factory: task JSON API, the managers' inbox pages, the effectiveness page and
the operational routes (``/metrics``, ``/healthz``, ``/readyz``, ``/-/reload``).

One factory for every host: the Kafka worker mounts the routes on its web port
(``add_routes``), ``alerting run --serve PORT`` calls ``serve``. Everything the handlers need
comes in through ``WebServices`` (store, lifecycle service, directory, secret, clock), so
tests run the real app against a memory or Redis store cheaply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY
from pydantic import SecretStr

from alerting.directory import DirectoryReader
from alerting.errors import ConfigError, ServiceUnavailable
from alerting.metrics import Metrics
from alerting.store.base import TaskStore
from alerting.store.effectiveness import DEFAULT_FALSE_ALARM_THRESHOLD, DEFAULT_MIN_RESOLVED
from alerting.store.lifecycle import TaskService
from alerting.web.auth import secret_from_env
from alerting.web.health import ReadyCheck, Reloadable, add_health_routes

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class WebServices:
    """What the web app needs, passed in (the host owns the clients and their lifetimes)."""

    tasks: TaskService
    store: TaskStore
    directory: DirectoryReader
    secret: SecretStr
    clock: Callable[[], float] = time.time
    metrics: Metrics | None = None
    default_locale: str = "zh"
    cookie_secure: bool = False  # set True behind HTTPS so cookies never travel in clear
    false_alarm_threshold: float = DEFAULT_FALSE_ALARM_THRESHOLD
    min_resolved: int = DEFAULT_MIN_RESOLVED
    effectiveness_days: int = 30
    tz_minutes: int = 480  # how times are shown on the pages (+08:00 by default)
    ready_check: ReadyCheck | None = None  # /readyz; default: the task store answers
    reloader: Reloadable | None = None  # POST /-/reload when given
    effectiveness_refresh_s: float = 300.0  # gauge refresh period; 0 = only on page views


def make_services(store: TaskStore, directory: DirectoryReader, *,
                  secret: SecretStr | None = None, metrics: Metrics | None = None,
                  clock: Callable[[], float] = time.time, **options: Any) -> WebServices:
    """The usual wiring for a host (worker, ``alerting run --serve``): a ``TaskService`` over
    ``store`` and the secret from ``ALERTING_API_SECRET`` unless given (ConfigError if unset).
    ``options`` are further ``WebServices`` fields (default_locale, cookie_secure, ...)."""
    tz = int(options.get("tz_minutes", 480))
    service = TaskService(store, directory, clock, metrics, tz_minutes=tz)
    return WebServices(tasks=service, store=store, directory=directory,
                       secret=secret if secret is not None else secret_from_env(),
                       clock=clock, metrics=metrics, **options)


SERVICES: web.AppKey[WebServices] = web.AppKey("alerting_web_services", WebServices)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON errors on /api (``{error, detail}``) and no stack traces anywhere; unexpected
    errors are logged by type and route only (task and customer data stay out of logs)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if request.path.startswith("/api/") and exc.status >= 400 \
                and exc.content_type != "application/json":
            return web.json_response({"error": exc.reason.lower().replace(" ", "_"),
                                      "detail": exc.reason}, status=exc.status)
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        route = request.match_info.route.resource
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method,
                  route.canonical if route is not None else "?")
        if request.path.startswith("/api/"):
            return web.json_response({"error": "internal", "detail": "internal error"},
                                     status=500)
        return web.Response(status=500, text="internal error")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No framing, no sniffing, only same-origin scripts and styles (no CDN by design)."""
    try:
        resp = await handler(request)
    except web.HTTPException as exc:  # errors and redirects are raised, not returned
        _secure(exc.headers)
        raise
    _secure(resp.headers)
    return resp


def _secure(headers: Any) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy",
                       "default-src 'self'; frame-ancestors 'none'; form-action 'self'")


def add_routes(app: web.Application, services: WebServices) -> None:
    """Mount the API, the pages and the static files on an existing app (the worker's)."""
    from alerting.web import api, effectiveness, inbox

    app[SERVICES] = services
    for mw in (security_headers, error_middleware):  # a host app may not have them yet
        if mw not in app.middlewares:
            app.middlewares.append(mw)
    if services.metrics is not None and services.effectiveness_refresh_s > 0:
        app.cleanup_ctx.append(_effectiveness_refresher)
    api.add_api_routes(app)
    inbox.add_inbox_routes(app)
    effectiveness.add_effectiveness_routes(app)
    app.router.add_static("/static/", STATIC_DIR, name="static")


def create_app(services: WebServices) -> web.Application:
    """A complete web application: middlewares, API, pages, static files and health routes."""
    app = web.Application(middlewares=[security_headers, error_middleware],
                          client_max_size=64 * 1024)
    add_routes(app, services)
    add_health_routes(
        app, metrics_registry=services.metrics.registry if services.metrics else REGISTRY,
        ready_check=services.ready_check or _store_answers(services.store),
        reloader=services.reloader)
    return app


async def _effectiveness_refresher(app: web.Application) -> AsyncIterator[None]:
    """Keep the effectiveness gauges fresh while the app runs (Prometheus scrapes them without
    anyone opening the page)."""
    task = asyncio.create_task(_refresh_loop(app[SERVICES]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _refresh_loop(services: WebServices) -> None:
    from alerting.web.api import effectiveness_for

    while True:
        try:
            await effectiveness_for(services, services.effectiveness_days)
        except ServiceUnavailable:
            log.warning("effectiveness refresh skipped: task store unavailable")
        except Exception as exc:  # a refresh bug must never take the web app down
            log.error("effectiveness refresh failed: %s", type(exc).__name__)
        await asyncio.sleep(services.effectiveness_refresh_s)


def worker_web_hook(app: web.Application, worker: Any) -> None:
    """Hook for ``alerting.streams.app.run_worker(web_hooks=...)``: the task API and pages over
    the worker's Redis task store and directory. Without ``ALERTING_API_SECRET`` the pages stay
    off (the worker still runs; a warning says why)."""
    from alerting.store.redis import RedisTaskStore

    try:
        secret = secret_from_env()
    except ConfigError as e:
        log.warning("task API and inbox disabled: %s", e)
        return
    store = RedisTaskStore(worker.redis, prefix=worker.s.redis_prefix)
    add_routes(app, make_services(store, worker.directory, secret=secret, metrics=worker.m))


def _store_answers(store: TaskStore) -> ReadyCheck:
    async def check() -> bool:
        try:
            await store.list(limit=1)
        except ServiceUnavailable:
            return False
        return True
    return check


async def serve(services: WebServices, host: str, port: int) -> web.AppRunner:
    """Start the app on ``host:port`` in the running loop; returns the runner (call
    ``await runner.cleanup()`` to stop). Port 0 picks a free port: see ``bound_port``."""
    runner = web.AppRunner(create_app(services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("web app listening on %s:%s", host, bound_port(runner))
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the runner's first site actually listens on."""
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return int(addr[1])
    raise RuntimeError("runner has no TCP site")
