"""The HTML pages over HTTP without a browser: sign-in, cookies, CSRF, locale and errors."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp.test_utils import TestClient

from alerting.store.base import TaskStore
from alerting.tasks import Task
from alerting.web.session import SESSION_COOKIE

Token = Callable[[str], str]


def field(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert m, f"no {name} field"
    return m.group(1)


async def sign_in(client: TestClient, token_for: Token, manager_id: str) -> str:
    """Signs in through the form; returns the CSRF token of the session's pages."""
    form = await (await client.get("/login")).text()
    r = await client.post("/login", data={"manager_id": manager_id,
                                          "token": token_for(manager_id),
                                          "csrf": field(form, "csrf")}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/inbox"
    cookie = r.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    return field(await (await client.get("/inbox")).text(), "csrf")


async def test_pages_redirect_to_login_without_a_session(client: TestClient) -> None:
    for path in ("/", "/inbox", "/effectiveness", "/tasks/t-x"):
        r = await client.get(path, allow_redirects=False)
        assert r.status == 303, path
    r = await client.get("/inbox")
    assert r.url.path == "/login"


async def test_login_needs_the_form_nonce(client: TestClient, token_for: Token) -> None:
    r = await client.post("/login", data={"manager_id": "m1", "token": token_for("m1"),
                                          "csrf": "forged"}, allow_redirects=False)
    assert r.status == 403
    assert SESSION_COOKIE not in r.cookies


async def test_login_refuses_unknown_manager_and_wrong_token(client: TestClient,
                                                             token_for: Token) -> None:
    for manager_id, token in (("m1", token_for("m2")), ("ghost", token_for("ghost")),
                              ("m1", "m1.99999999999.AAAA")):
        form = await (await client.get("/login?lang=en")).text()
        r = await client.post("/login", data={"manager_id": manager_id, "token": token,
                                              "csrf": field(form, "csrf")},
                              allow_redirects=False)
        assert r.status == 401
        assert "the token is invalid or expired" in await r.text()


async def test_actions_need_the_sessions_csrf_token(client: TestClient, token_for: Token,
                                                   tasks: list[Task], store: TaskStore) -> None:
    csrf = await sign_in(client, token_for, "m1")
    tid = tasks[0].task_id
    r = await client.post(f"/tasks/{tid}/ack", data={"csrf": "nope"}, allow_redirects=False)
    assert r.status == 403
    assert (await store.get(tid)).status == "open"
    r = await client.post(f"/tasks/{tid}/ack", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/tasks/{tid}?done=ack"
    assert (await store.get(tid)).status == "acknowledged"


async def test_form_resolve_validates_the_outcome(client: TestClient, token_for: Token,
                                                 tasks: list[Task], store: TaskStore) -> None:
    csrf = await sign_in(client, token_for, "m1")
    tid = tasks[0].task_id
    r = await client.post(f"/tasks/{tid}/resolve", data={"csrf": csrf, "outcome": "maybe"})
    assert r.status == 422
    r = await client.post(f"/tasks/{tid}/resolve",
                          data={"csrf": csrf, "outcome": "converted", "note": "<b>loan</b>"})
    assert r.status == 200
    html = await r.text()
    assert "&lt;b&gt;loan&lt;/b&gt;" in html  # escaped, never markup
    stored = await store.get(tid)
    assert (stored.outcome, stored.note) == ("converted", "<b>loan</b>")


async def test_locale_from_manager_query_and_cookie(client: TestClient,
                                                    token_for: Token) -> None:
    await sign_in(client, token_for, "m2")  # m2's directory locale is en
    assert "My tasks" in await (await client.get("/inbox")).text()
    r = await client.get("/inbox?lang=zh")
    assert "我的任务" in await r.text()
    assert "我的任务" in await (await client.get("/inbox")).text()  # remembered


async def test_unknown_and_forbidden_task_pages(client: TestClient, token_for: Token,
                                                tasks: list[Task]) -> None:
    await sign_in(client, token_for, "m1")
    r = await client.get("/tasks/t-nothing?lang=en")
    assert r.status == 404 and "No such task." in await r.text()
    other = next(t for t in tasks if t.assignee_id == "m3")
    r = await client.get(f"/tasks/{other.task_id}")
    assert r.status == 403
    assert "杨磊" not in await r.text()  # no customer data leaks on the error page


async def test_logout_clears_the_session(client: TestClient, token_for: Token) -> None:
    csrf = await sign_in(client, token_for, "m1")
    r = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    r = await client.get("/inbox", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"


async def test_security_headers(client: TestClient) -> None:
    r = await client.get("/login")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    css = await client.get("/static/style.css")
    assert css.status == 200
