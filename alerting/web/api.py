"""The task JSON API (bearer token):

    GET  /api/tasks                 the caller's visible tasks (?status=open,acknowledged &rule=)
    GET  /api/tasks/{id}            one task
    POST /api/tasks/{id}/ack        {"note"?}
    POST /api/tasks/{id}/resolve    {"outcome", "note"?}
    GET  /api/effectiveness         per-rule effectiveness (?days=30)

401 without or with a bad token, 403 for a task the caller neither owns nor supervises, 404 for
an unknown task, 409 for an impossible transition, 422 for a bad outcome or body. Errors are
``{"error", "detail"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from alerting.errors import Forbidden, ServiceUnavailable, TaskNotFound
from alerting.store.effectiveness import (
    RuleEffectiveness,
    compute_effectiveness,
    export_metrics,
)
from alerting.store.lifecycle import MAX_NOTE_LEN, InvalidOutcome, InvalidTransition
from alerting.tasks import OUTCOMES, STATUSES, Task
from alerting.timeutil import DAY
from alerting.web.app import WebServices
from alerting.web.session import bearer_viewer, json_error, services_of

T = TypeVar("T")
MAX_LIMIT = 1000
MAX_EFFECTIVENESS_TASKS = 1_000_000


async def call_service(coro: Awaitable[T]) -> T:
    """Await a lifecycle call, translating its typed errors to JSON HTTP errors."""
    try:
        return await coro
    except TaskNotFound:
        raise json_error(404, "not_found", "no such task") from None
    except InvalidOutcome:
        raise json_error(422, "bad_outcome",
                         "outcome must be one of " + ", ".join(OUTCOMES)) from None
    except InvalidTransition as e:
        raise json_error(409, "conflict", str(e)) from None
    except Forbidden:
        raise json_error(403, "forbidden", "task not visible to this manager") from None
    except ServiceUnavailable:
        raise json_error(503, "unavailable", "task store unavailable") from None


def parse_statuses(raw: list[str]) -> list[str] | None:
    """``?status=open,acknowledged`` or repeated ``status``; None = all; 422 on unknown."""
    values = [v.strip() for item in raw for v in item.split(",") if v.strip()]
    if not values or values == ["all"]:
        return None
    bad = [v for v in values if v not in STATUSES]
    if bad:
        raise json_error(422, "bad_status", "status must be one of " + ", ".join(STATUSES))
    return values


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise json_error(400, "bad_request", "body is not JSON") from None
    if not isinstance(body, dict):
        raise json_error(422, "bad_request", "body must be a JSON object")
    return body


def _note(body: dict[str, Any]) -> str | None:
    note = body.get("note")
    if note is None:
        return None
    if not isinstance(note, str) or len(note) > MAX_NOTE_LEN:
        raise json_error(422, "bad_note", f"note must be a string of at most {MAX_NOTE_LEN} "
                                          "characters")
    return note.strip() or None


def _json(data: Any, status: int = 200) -> web.Response:
    """JSON response encoded with orjson (several times faster than json for task lists)."""
    return web.Response(body=orjson.dumps(data), status=status,
                        content_type="application/json")


def _task_json(task: Task) -> dict[str, Any]:
    return task.to_dict()


async def list_tasks(request: web.Request) -> web.Response:
    """GET /api/tasks."""
    viewer = bearer_viewer(request)
    svc = services_of(request)
    statuses = parse_statuses(request.query.getall("status", []))
    rule = request.query.get("rule") or None
    tasks = await call_service(svc.tasks.list_for(viewer, statuses=statuses))
    if rule is not None:
        tasks = [t for t in tasks if t.rule_id == rule]
    return _json({"viewer": viewer, "count": len(tasks),
                              "tasks": [_task_json(t) for t in tasks[:MAX_LIMIT]]})


async def get_task(request: web.Request) -> web.Response:
    """GET /api/tasks/{id}."""
    viewer = bearer_viewer(request)
    task = await call_service(services_of(request).tasks.get_for(
        viewer, request.match_info["task_id"]))
    return _json(_task_json(task))


async def ack_task(request: web.Request) -> web.Response:
    """POST /api/tasks/{id}/ack."""
    viewer = bearer_viewer(request)
    note = _note(await _json_body(request))
    task = await call_service(services_of(request).tasks.acknowledge(
        viewer, request.match_info["task_id"], note))
    return _json(_task_json(task))


async def resolve_task(request: web.Request) -> web.Response:
    """POST /api/tasks/{id}/resolve."""
    viewer = bearer_viewer(request)
    body = await _json_body(request)
    outcome = body.get("outcome")
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise json_error(422, "bad_outcome", "outcome must be one of " + ", ".join(OUTCOMES))
    task = await call_service(services_of(request).tasks.resolve(
        viewer, request.match_info["task_id"], outcome, _note(body)))
    return _json(_task_json(task))


async def effectiveness_for(svc: WebServices, days: int) -> list[RuleEffectiveness]:
    """Effectiveness of the tasks created in the last ``days`` (wall clock); also refreshes
    the Prometheus gauges. Raises ``ServiceUnavailable`` when the store is down."""
    since_ms = int(svc.clock() * 1000) - days * DAY
    tasks = await svc.store.list(since_ms=since_ms, limit=MAX_EFFECTIVENESS_TASKS)
    rows = compute_effectiveness(tasks, false_alarm_threshold=svc.false_alarm_threshold,
                                 min_resolved=svc.min_resolved)
    if svc.metrics is not None:
        export_metrics(rows, svc.metrics)
    return rows


async def effectiveness_rows(request: web.Request, days: int) -> list[RuleEffectiveness]:
    """``effectiveness_for`` with store errors as HTTP 503."""
    return await call_service(effectiveness_for(services_of(request), days))


def parse_days(raw: str | None, default: int) -> int:
    """``?days=N`` (1..3660); 422 otherwise."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 3660:
        raise json_error(422, "bad_days", "days must be an integer from 1 to 3660")
    return int(raw)


async def get_effectiveness(request: web.Request) -> web.Response:
    """GET /api/effectiveness."""
    bearer_viewer(request)
    svc = services_of(request)
    days = parse_days(request.query.get("days"), svc.effectiveness_days)
    rows = await effectiveness_rows(request, days)
    return _json({"days": days, "threshold": svc.false_alarm_threshold,
                              "min_resolved": svc.min_resolved,
                              "rules": [r.to_dict() for r in rows]})


def add_api_routes(app: web.Application) -> None:
    """Mount the JSON API."""
    app.router.add_get("/api/tasks", list_tasks)
    app.router.add_get("/api/tasks/{task_id}", get_task)
    app.router.add_post("/api/tasks/{task_id}/ack", ack_task)
    app.router.add_post("/api/tasks/{task_id}/resolve", resolve_task)
    app.router.add_get("/api/effectiveness", get_effectiveness)
