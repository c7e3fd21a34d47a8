"""Who is calling: the bearer token of API calls and the session cookie of the pages."""

from __future__ import annotations

import orjson
from aiohttp import web

from alerting.web.app import SERVICES, WebServices
from alerting.web.auth import AuthError, check_csrf, csrf_token, verify_token

SESSION_COOKIE = "alerting_session"
LOGIN_NONCE_COOKIE = "alerting_login"
LANG_COOKIE = "alerting_lang"


def services_of(request: web.Request) -> WebServices:
    """The app's ``WebServices``."""
    return request.app[SERVICES]


_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden,
    404: web.HTTPNotFound, 409: web.HTTPConflict, 422: web.HTTPUnprocessableEntity,
    503: web.HTTPServiceUnavailable,
}


def json_error(status: int, error: str, detail: str) -> web.HTTPException:
    """An HTTP error with the API's JSON body ``{error, detail}``."""
    body = orjson.dumps({"error": error, "detail": detail}).decode()
    headers = {"WWW-Authenticate": 'Bearer realm="alerting"'} if status == 401 else None
    return _ERRORS[status](text=body, content_type="application/json", headers=headers)


def bearer_viewer(request: web.Request) -> str:
    """The manager id of a valid ``Authorization: Bearer`` token; 401 otherwise."""
    svc = services_of(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise json_error(401, "unauthorized", "missing bearer token")
    try:
        return verify_token(svc.secret, token, now=svc.clock())
    except AuthError as e:
        raise json_error(401, "unauthorized", str(e)) from None


def session_token(request: web.Request) -> str | None:
    """The session cookie's token if it is valid now, else None."""
    svc = services_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        verify_token(svc.secret, token, now=svc.clock())
    except AuthError:
        return None
    return token


def page_viewer(request: web.Request) -> tuple[str, str]:
    """(manager id, session token) of a signed-in page visitor; redirects to the login page."""
    svc = services_of(request)
    token = session_token(request)
    if token is None:
        raise web.HTTPSeeOther(location="/login")
    return verify_token(svc.secret, token, now=svc.clock()), token


def page_csrf(request: web.Request, token: str) -> str:
    """The CSRF token to embed in this session's forms."""
    return csrf_token(services_of(request).secret, token)


def require_csrf(request: web.Request, token: str, submitted: str | None) -> None:
    """403 unless the form carried this session's CSRF token."""
    if not check_csrf(services_of(request).secret, token, submitted or ""):
        raise web.HTTPForbidden(text="bad or missing CSRF token")


def set_cookie(resp: web.StreamResponse, request: web.Request, name: str, value: str,
               max_age: int) -> None:
    """An HttpOnly, SameSite=Strict cookie (Secure when configured)."""
    resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Strict",
                    secure=services_of(request).cookie_secure, path="/")
