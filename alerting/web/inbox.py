"""The account manager's pages: sign in, the inbox, a task with its evidence, acknowledge and
resolve (HTML forms with CSRF tokens; post/redirect/get)."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web

from alerting.errors import Forbidden, ServiceUnavailable, TaskNotFound
from alerting.store.lifecycle import MAX_NOTE_LEN, InvalidOutcome, InvalidTransition
from alerting.tasks import OUTCOMES, Task
from alerting.web.auth import AuthError, check_csrf, csrf_token, verify_token
from alerting.web.pages import locale_for, render
from alerting.web.session import (
    LOGIN_NONCE_COOKIE,
    SESSION_COOKIE,
    page_csrf,
    page_viewer,
    require_csrf,
    services_of,
    set_cookie,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
VIEWS = {"active": ("open", "acknowledged"), "resolved": ("resolved",), "all": None}


class PageError(Exception):
    """A page-level failure rendered as an error page (status + UI string key)."""

    def __init__(self, status: int, key: str) -> None:
        self.status = status
        self.key = key


async def page_call(coro: Awaitable[T]) -> T:
    """Await a lifecycle call, translating typed errors to ``PageError``."""
    try:
        return await coro
    except TaskNotFound:
        raise PageError(404, "not_found") from None
    except (InvalidOutcome, InvalidTransition):
        raise PageError(422, "bad_request") from None
    except Forbidden:
        raise PageError(403, "forbidden") from None
    except ServiceUnavailable:
        raise PageError(503, "error") from None


def _error_page(request: web.Request, viewer: str, token: str, e: PageError) -> web.Response:
    return render(request, "error.html", locale_for(request, viewer), status=e.status,
                  message_key=e.key, **page_chrome(request, viewer, token))


def page_chrome(request: web.Request, viewer: str, token: str) -> dict[str, Any]:
    """What every signed-in page shows in its header."""
    manager = services_of(request).directory.manager(viewer)
    return {"viewer_id": viewer, "viewer_name": manager.name if manager else viewer,
            "csrf": page_csrf(request, token)}


def task_flags(task: Task, now_ms: int) -> dict[str, bool]:
    """Marks shown beside a task: escalated, overdue (past due and not resolved)."""
    return {"escalated": task.escalation_level > 0,
            "overdue": task.status != "resolved" and bool(task.due_ms) and task.due_ms < now_ms}


def localized(task: Task, lang: str) -> tuple[str, str]:
    """(title, body) in the page's language when the rules rendered it, else the default."""
    tr = task.translations.get(lang) or {}
    return tr.get("title") or task.title, tr.get("body") or task.body


def _row(request: web.Request, task: Task, lang: str, now_ms: int) -> dict[str, Any]:
    svc = services_of(request)
    customer = svc.directory.customer(task.customer_id)
    assignee = svc.directory.manager(task.assignee_id) if task.assignee_id else None
    title, body = localized(task, lang)
    return {"task": task, "title": title, "body": body, **task_flags(task, now_ms),
            "customer_name": customer.name if customer else "",
            "assignee_name": assignee.name if assignee else (task.assignee_id or "")}


async def login_form(request: web.Request) -> web.Response:
    """GET /login: the form, with a login CSRF nonce bound to a fresh cookie."""
    return _login_page(request, error=False)


def _login_page(request: web.Request, *, error: bool) -> web.Response:
    svc = services_of(request)
    nonce = secrets.token_urlsafe(24)
    resp = render(request, "login.html", locale_for(request, None), status=401 if error else 200,
                  csrf=csrf_token(svc.secret, nonce), error=error, viewer_id=None)
    set_cookie(resp, request, LOGIN_NONCE_COOKIE, nonce, max_age=3600)
    return resp


async def login_submit(request: web.Request) -> web.StreamResponse:
    """POST /login: manager id + token; sets the HttpOnly session cookie."""
    svc = services_of(request)
    form = await request.post()
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE, "")
    if not nonce or not check_csrf(svc.secret, nonce, str(form.get("csrf", ""))):
        raise web.HTTPForbidden(text="bad or missing CSRF token")
    manager_id = str(form.get("manager_id", "")).strip()
    token = str(form.get("token", "")).strip()
    try:
        subject = verify_token(svc.secret, token, now=svc.clock())
    except AuthError:
        subject = ""
    ok = bool(subject) and hmac.compare_digest(subject.encode(), manager_id.encode()) \
        and svc.directory.manager(subject) is not None
    if not ok:
        log.info("web login failed")
        return _login_page(request, error=True)
    expiry = int(token.rsplit(".", 2)[1])
    resp = web.HTTPSeeOther(location="/inbox")
    set_cookie(resp, request, SESSION_COOKIE, token, max_age=max(1, expiry - int(svc.clock())))
    resp.del_cookie(LOGIN_NONCE_COOKIE, path="/")
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: clears the session cookie."""
    _, token = page_viewer(request)
    form = await request.post()
    require_csrf(request, token, str(form.get("csrf", "")))
    resp = web.HTTPSeeOther(location="/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


async def inbox(request: web.Request) -> web.Response:
    """GET /inbox: the viewer's and their team's tasks by due time and severity."""
    viewer, token = page_viewer(request)
    svc = services_of(request)
    lang = locale_for(request, viewer)
    view = request.query.get("view", "active")
    statuses = VIEWS.get(view, VIEWS["active"])
    try:
        tasks = await page_call(svc.tasks.list_for(viewer, statuses=statuses))
    except PageError as e:
        return _error_page(request, viewer, token, e)
    now_ms = int(svc.clock() * 1000)
    rows = [_row(request, t, lang, now_ms) for t in tasks]
    return render(request, "inbox.html", lang, rows=rows, view=view if view in VIEWS else
                  "active", views=list(VIEWS), **page_chrome(request, viewer, token))


async def task_page(request: web.Request) -> web.Response:
    """GET /tasks/{id}: reason, evidence, events, history and the action forms."""
    viewer, token = page_viewer(request)
    svc = services_of(request)
    lang = locale_for(request, viewer)
    try:
        task = await page_call(svc.tasks.get_for(viewer, request.match_info["task_id"]))
        others = [t for t in await page_call(svc.tasks.list_for(viewer))
                  if t.customer_id == task.customer_id and t.task_id != task.task_id]
    except PageError as e:
        return _error_page(request, viewer, token, e)
    now_ms = int(svc.clock() * 1000)
    customer = svc.directory.customer(task.customer_id)
    return render(request, "task.html", lang, row=_row(request, task, lang, now_ms),
                  customer=customer, others=[_row(request, t, lang, now_ms) for t in others],
                  outcomes=OUTCOMES, done=request.query.get("done"),
                  max_note=MAX_NOTE_LEN, **page_chrome(request, viewer, token))


async def ack_submit(request: web.Request) -> web.StreamResponse:
    """POST /tasks/{id}/ack (form)."""
    return await _act(request, "ack")


async def resolve_submit(request: web.Request) -> web.StreamResponse:
    """POST /tasks/{id}/resolve (form): outcome + follow-up note."""
    return await _act(request, "resolve")


async def _act(request: web.Request, action: str) -> web.StreamResponse:
    viewer, token = page_viewer(request)
    svc = services_of(request)
    form = await request.post()
    require_csrf(request, token, str(form.get("csrf", "")))
    task_id = request.match_info["task_id"]
    note = str(form.get("note", "")).strip()[:MAX_NOTE_LEN] or None
    try:
        if action == "ack":
            await page_call(svc.tasks.acknowledge(viewer, task_id, note))
        else:
            outcome = str(form.get("outcome", ""))
            if outcome not in OUTCOMES:
                raise PageError(422, "bad_request")
            await page_call(svc.tasks.resolve(viewer, task_id, outcome, note))
    except PageError as e:
        return _error_page(request, viewer, token, e)
    raise web.HTTPSeeOther(location=f"/tasks/{task_id}?done={action}")


async def root(request: web.Request) -> web.StreamResponse:
    """GET /: to the inbox (or the login page)."""
    raise web.HTTPSeeOther(location="/inbox")


def add_inbox_routes(app: web.Application) -> None:
    """Mount the manager pages."""
    app.router.add_get("/", root)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/inbox", inbox)
    app.router.add_get("/tasks/{task_id}", task_page)
    app.router.add_post("/tasks/{task_id}/ack", ack_submit)
    app.router.add_post("/tasks/{task_id}/resolve", resolve_submit)
