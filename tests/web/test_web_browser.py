"""The inbox in a real headless Chromium (Debian's package) driven by Playwright, against the
app served on localhost with the real Redis task store. Playwright's auto-waiting expectations
synchronise; there are no sleeps."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from web_seed import demo_tasks
from web_server import CHROMIUM, CHROMIUM_ARGS, ServedApp

from alerting.tasks import Task

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def served() -> Iterator[ServedApp]:
    app = ServedApp(use_redis=True).start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    pg = ctx.new_page()
    try:
        yield pg
    finally:
        ctx.close()


def login(page: Page, served: ServedApp, manager_id: str, lang: str = "en") -> None:
    page.goto(f"{served.url}/login?lang={lang}")
    page.fill("input[name=manager_id]", manager_id)
    page.fill("input[name=token]", served.token(manager_id))
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{served.url}/inbox")


def task_of(rule: str) -> Task:
    return next(t for t in demo_tasks() if t.rule_id == rule)


def test_manager_acknowledges_and_resolves_a_task(page: Page, served: ServedApp) -> None:
    login(page, served, "m1")
    rows = page.locator("tr.task-row")
    expect(rows).to_have_count(2)
    first = rows.nth(0)  # due first: the overdue critical withdrawal
    expect(first).to_contain_text("Large withdrawal: 250,000.00 CNY")
    expect(first.locator("dl.inline-evidence")).to_contain_text("200,000.00")  # the numbers
    expect(first.get_by_test_id("overdue")).to_be_visible()
    expect(rows.nth(1).get_by_test_id("overdue")).to_have_count(0)

    first.locator("a.title").click()
    t = task_of("large_withdrawal")
    expect(page).to_have_url(f"{served.url}/tasks/{t.task_id}")
    expect(page.get_by_test_id("evidence")).to_contain_text("200,000.00")
    expect(page.get_by_test_id("events")).to_contain_text("tx-20260302-0007")
    expect(page.get_by_test_id("task-status")).to_have_text("Open")

    page.get_by_test_id("ack").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Acknowledged")
    expect(page.get_by_test_id("task-status")).to_have_text("Acknowledged")
    assert served.call(lambda: served.store.get(t.task_id)).status == "acknowledged"

    page.get_by_test_id("outcome").select_option("retained")
    page.get_by_test_id("note").fill("Buying her daughter a flat; offered a mortgage.")
    page.get_by_test_id("resolve").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Outcome recorded")
    expect(page.get_by_test_id("task-outcome")).to_have_text("Retained")
    expect(page.get_by_test_id("history")).to_contain_text("Resolved")
    stored = served.call(lambda: served.store.get(t.task_id))
    assert (stored.status, stored.outcome) == ("resolved", "retained")
    assert stored.note == "Buying her daughter a flat; offered a mortgage."
    assert [h["by"] for h in stored.history] == ["m1", "m1"]

    page.goto(f"{served.url}/effectiveness")
    row = page.locator("tr[data-rule=large_withdrawal]")
    expect(row.locator("[data-col=resolved]")).to_have_text("1")
    expect(row.locator("[data-col=positive]")).to_have_text("100.0 %")
    expect(page.locator("tr[data-rule=dormant_wakeup] [data-col=resolved]")).to_have_text("0")

    page.goto(f"{served.url}/inbox")
    expect(page.locator("tr.task-row")).to_have_count(1)  # resolved left the open view


def test_supervisor_sees_the_team_task(page: Page, served: ServedApp) -> None:
    login(page, served, "s1")
    rows = page.locator("tr.task-row")
    expect(rows).to_have_count(3)  # m1's two and m2's one, not m3's
    m2_task = task_of("dormant_wakeup")
    row = page.locator(f"tr[data-task-id={m2_task.task_id}]")
    expect(row).to_contain_text("Wang Wei")
    expect(row.locator(".badge.team")).to_be_visible()
    row.click()  # the whole row is a link (app.js)
    expect(page).to_have_url(f"{served.url}/tasks/{m2_task.task_id}")
    expect(page.get_by_test_id("evidence")).to_contain_text("212")


def test_manager_cannot_open_another_managers_task(page: Page, served: ServedApp) -> None:
    login(page, served, "m1")
    other = task_of("complaint_sla")  # m3's
    resp = page.goto(f"{served.url}/tasks/{other.task_id}")
    assert resp is not None and resp.status == 403
    expect(page.get_by_test_id("error-message")).to_have_text("You may not see this task.")
    expect(page.locator("body")).not_to_contain_text("杨磊")


def test_chinese_ui_and_escalation_mark(page: Page, served: ServedApp) -> None:
    login(page, served, "v1", lang="zh")
    expect(page.locator("h1")).to_contain_text("待处理任务")
    esc = page.locator(f"tr[data-task-id={task_of('complaint_sla').task_id}]")
    expect(esc.get_by_test_id("escalated")).to_have_text("已升级 L1")
    expect(page.locator("tr.task-row").nth(1)).to_contain_text("大额取款")  # due after 11:00
    page.get_by_test_id("lang-toggle").click()
    expect(page.locator("h1")).to_contain_text("Open tasks")


def test_bad_token_is_refused(page: Page, served: ServedApp) -> None:
    page.goto(f"{served.url}/login?lang=en")
    page.fill("input[name=manager_id]", "m1")
    page.fill("input[name=token]", served.token("m3"))  # someone else's token
    page.click("button[type=submit]")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    page.goto(f"{served.url}/inbox")
    expect(page).to_have_url(f"{served.url}/login")
