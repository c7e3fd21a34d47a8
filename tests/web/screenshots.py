"""Make the screenshots under docs/screenshots/ of the main views (inbox, task, effectiveness;
Chinese and English) with the real app and headless Chromium.

    .venv/bin/python tests/web/screenshots.py [--out docs/screenshots]

The store is in memory, seeded with the demo tasks plus a month of resolved history so the
effectiveness table has something to say.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from web_seed import TZ, demo_tasks, make_task  # noqa: E402
from web_server import CHROMIUM, CHROMIUM_ARGS, ServedApp  # noqa: E402

from alerting.tasks import Task  # noqa: E402
from alerting.timeutil import DAY, HOUR, MINUTE, format_ts  # noqa: E402

HISTORY = {  # rule: outcomes of resolved tasks over the past weeks
    "large_withdrawal": ["retained"] * 6 + ["converted"] * 2 + ["contacted"] * 3
    + ["false_alarm"] * 1,
    "transfer_out_other_bank": ["retained"] * 3 + ["contacted"] * 4 + ["false_alarm"] * 2,
    "dormant_wakeup": ["converted"] * 5 + ["not_needed"] * 3 + ["contacted"] * 2,
    "balance_drop_small": ["false_alarm"] * 7 + ["not_needed"] * 2 + ["contacted"] * 1,
    "complaint_sla": ["contacted"] * 4 + ["retained"] * 1,
}


def history_tasks() -> list[Task]:
    """Resolved tasks spread over the last 25 days with varied acknowledgement times."""
    out: list[Task] = []
    for r, (rule, outcomes) in enumerate(HISTORY.items()):
        for i, outcome in enumerate(outcomes):
            t = make_task(rule, f"H{r}{i:02d}", f"h-{r}-{i}", assignee="m1" if i % 2 else "m2",
                          created_offset_ms=-(i + 1) * 2 * DAY - r * HOUR)
            ack = t.created_ms + (5 + (i * 37 + r * 11) % 180) * MINUTE
            out.append(replace(t, status="resolved", outcome=outcome,
                               acknowledged_at=format_ts(ack, TZ),
                               resolved_at=format_ts(ack + 2 * HOUR, TZ),
                               escalation_level=1 if (i + r) % 5 == 0 else 0))
    return out


def login(page: Page, app: ServedApp, manager_id: str) -> None:
    page.goto(f"{app.url}/login")
    page.fill("input[name=manager_id]", manager_id)
    page.fill("input[name=token]", app.token(manager_id))
    page.click("button[type=submit]")
    page.wait_for_url(f"{app.url}/inbox")


def shoot(app: ServedApp, out: Path) -> list[Path]:
    """Take every screenshot; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    withdrawal = demo_tasks()[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for lang in ("zh", "en"):
            ctx = browser.new_context(viewport={"width": 1360, "height": 820},
                                      locale="zh-CN" if lang == "zh" else "en-US")
            page = ctx.new_page()
            login(page, app, "v1")
            for name, path in (("inbox", "/inbox"), ("task", f"/tasks/{withdrawal.task_id}"),
                               ("effectiveness", "/effectiveness")):
                page.goto(f"{app.url}{path}?lang={lang}")
                page.wait_for_load_state("networkidle")
                target = out / f"{name}-{lang}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
            ctx.close()
        browser.close()
    return written


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = ap.parse_args()
    tasks = demo_tasks()
    # one already acknowledged, so the inbox shows both states
    tasks[1] = replace(tasks[1], status="acknowledged",
                       acknowledged_at=format_ts(tasks[1].created_ms + 20 * MINUTE, TZ))
    app = ServedApp(use_redis=False, tasks=tasks + history_tasks()).start()
    try:
        for f in shoot(app, args.out):
            print(f)
    finally:
        app.stop()


if __name__ == "__main__":
    main()
