"""GET /effectiveness: the per-rule effectiveness table for risk staff (signed-in users).

Aggregates only (no customer data), over the last ``?days=N`` (default 30); the same rows as
``GET /api/effectiveness`` and ``alerting report``. Rendering also refreshes the gauges.
"""

from __future__ import annotations

from aiohttp import web

from alerting.web.api import effectiveness_rows, parse_days
from alerting.web.inbox import page_chrome
from alerting.web.pages import locale_for, render
from alerting.web.session import page_viewer, services_of


async def effectiveness_page(request: web.Request) -> web.Response:
    """The table, flagged rules first marked."""
    viewer, token = page_viewer(request)
    svc = services_of(request)
    try:
        days = parse_days(request.query.get("days"), svc.effectiveness_days)
    except web.HTTPException:
        days = svc.effectiveness_days
    rows = await effectiveness_rows(request, days)
    return render(request, "effectiveness.html", locale_for(request, viewer), rows=rows,
                  days=days, threshold=f"{svc.false_alarm_threshold * 100:.0f} %",
                  min_resolved=svc.min_resolved, **page_chrome(request, viewer, token))


def add_effectiveness_routes(app: web.Application) -> None:
    """Mount the effectiveness page."""
    app.router.add_get("/effectiveness", effectiveness_page)
