"""Server-rendered pages: the jinja2 environment (autoescaped), locale choice and formatting
helpers shared by the inbox and the effectiveness page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from alerting.errors import BadEvent
from alerting.money import format_money_grouped, to_cents
from alerting.store.effectiveness import fmt_duration, fmt_share
from alerting.timeutil import parse_ts, to_datetime
from alerting.web.i18n import LOCALES, Translator, pick_locale
from alerting.web.session import LANG_COOKIE, services_of, set_cookie

_MONEY_RE = re.compile(r"-?\d+\.\d{2}")
TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES),
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)


def locale_for(request: web.Request, viewer_id: str | None) -> str:
    """The page locale: ?lang=, the remembered choice, the manager's locale, the default."""
    svc = services_of(request)
    manager = svc.directory.manager(viewer_id) if viewer_id else None
    return pick_locale(request.query.get("lang"), request.cookies.get(LANG_COOKIE),
                       manager.locale if manager is not None else None, svc.default_locale)


def fmt_time(request: web.Request, epoch_ms: int | None) -> str:
    """Local wall time of the deployment's zone, minutes precision."""
    if not epoch_ms:
        return ""
    tz = services_of(request).tz_minutes
    return to_datetime(epoch_ms, tz).strftime("%Y-%m-%d %H:%M")


def fmt_iso(request: web.Request, iso: str | None) -> str:
    """An ISO timestamp from a task rendered like ``fmt_time``."""
    if not iso:
        return ""
    try:
        ms, _ = parse_ts(iso, field="time")
    except BadEvent:
        return iso
    return fmt_time(request, ms)


def fmt_value(value: Any) -> str:
    """An evidence value as text: money grouped (1,234.50), other scalars as they are,
    structures as compact JSON."""
    if isinstance(value, str):
        # money travels as plain decimal strings; group the thousands for reading
        if _MONEY_RE.fullmatch(value):
            return format_money_grouped(to_cents(value, allow_zero=True, allow_negative=True))
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def render(request: web.Request, template: str, locale: str, *, status: int = 200,
           **ctx: Any) -> web.Response:
    """Render a page; remembers an explicit ``?lang=`` in a cookie."""
    other = [x for x in LOCALES if x != locale][0]
    t = Translator(locale)
    html = _ENV.get_template(template).render(
        t=t, lang=locale, other_lang=other, request=request, fmt_value=fmt_value,
        fmt_share=fmt_share, fmt_duration=fmt_duration,
        fmt_time=lambda ms: fmt_time(request, ms), fmt_iso=lambda s: fmt_iso(request, s),
        **ctx)
    resp = web.Response(text=html, content_type="text/html", status=status)
    if request.query.get("lang") in LOCALES:
        set_cookie(resp, request, LANG_COOKIE, locale, max_age=365 * 86400)
    resp.headers["Cache-Control"] = "no-store"
    return resp
