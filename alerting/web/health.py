"""Operational routes: ``/metrics``, ``/healthz``, ``/readyz`` and ``POST /-/reload``.

``/healthz`` answers 200 while the event loop runs (liveness: restart the process if it stops
answering). ``/readyz`` awaits the host's ``ready_check`` (consuming, Redis reachable) under a
time limit and answers 200 or 503 (readiness: take the worker out of rotation). The reload
route exists only when a reloader is given; it answers 200 with the new rule count or 422 with
the problems (the last good rules stay active). Like Prometheus' own ``/-/reload`` it has no
authentication: expose the worker's web port only on the operators' network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alerting.reload import ReloadResult

log = logging.getLogger(__name__)
ReadyCheck = Callable[[], Awaitable[bool]]
READY_TIMEOUT_S = 2.0


class Reloadable(Protocol):
    """What the reload route needs (``alerting.reload.RulesReloader``)."""

    async def areload(self, trigger: str = "manual") -> ReloadResult:
        """Validate and apply the rules file."""
        ...


def add_health_routes(
    app: web.Application,
    *,
    metrics_registry: CollectorRegistry,
    ready_check: ReadyCheck,
    reloader: Reloadable | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> None:
    """Mount the operational routes on ``app``."""

    async def metrics(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, metrics_registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ready, reason = await run_ready_check(ready_check, ready_timeout_s)
        if ready:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not_ready", "reason": reason}, status=503)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if reloader is not None:
        target = reloader

        async def reload(_: web.Request) -> web.Response:
            result = await target.areload("http")
            return web.json_response(result.to_dict(), status=200 if result.ok else 422)

        app.router.add_post("/-/reload", reload)


async def run_ready_check(check: ReadyCheck, timeout_s: float) -> tuple[bool, str]:
    """(ready, reason): a check that raises or exceeds the time limit counts as not ready; the
    reason is the exception type only (messages may carry hosts or credentials)."""
    try:
        ok = await asyncio.wait_for(check(), timeout_s)
    except TimeoutError:
        return False, "timeout"
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", never a 500
        log.warning("readiness check failed: %s", type(exc).__name__)
        return False, type(exc).__name__
    return (True, "") if ok else (False, "check_failed")
