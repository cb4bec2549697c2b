"""Queues page: depth, waiting, limits and workers per queue; pause and resume by clicking,
for managers only, with the CSRF token, under a prefix too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from tests.waiting import wait_until
from underway import App, JobState
from underway.api import create_api, include_in
from underway.models import QueueLimits

from ..api.support import LiveServer
from .conftest import FAST_STREAMS, TIMEOUT_MS, sign_in
from .support import MANAGE_TOKEN, TOKENS, VIEW_TOKEN, XSS, wait_finished
from .test_mounted import URLS_ON_THE_PAGE


async def limits_stored(app: App, *limits: QueueLimits) -> None:
    """Limits stored as a worker of an app declaring them would store them."""
    await (await app.backend()).sync_queue_limits(limits)


def test_each_queue_shows_its_jobs_limits_and_workers(page: Page, app: App) -> None:
    running = app.enqueue("crunch", {"steps": 2000, "pause": 0.02})
    # Once it claims, the worker has stored its app's limits (none): these stay.
    wait_until(lambda: app.get(running.id).state is JobState.RUNNING)
    app.run_blocking(limits_stored(app, QueueLimits("default", 3, 10, 1.0, False)))
    page.goto("/dashboard")
    page.get_by_role("navigation").get_by_role("link", name="Queues").click()

    expect(page).to_have_url(re.compile(r"/dashboard/queues$"))
    default = page.locator('tr[data-queue="default"]')
    expect(default.locator('[data-depth-state="running"]')).to_have_text("running 1")
    expect(default.locator("[data-limits] div")).to_have_text(["3 at once", "10/second"])
    worker_id = app.running_workers[0].worker.id
    expect(default.locator("[data-workers]")).to_have_text(worker_id)
    expect(default.locator("[data-started-last-minute]")).to_have_text("1")
    expect(default.locator("[data-paused]")).to_have_count(0)
    reports = page.locator('tr[data-queue="reports"]')
    expect(reports.locator("[data-depth]")).to_have_text("no jobs")
    expect(reports.locator("[data-limits]")).to_have_text("none")
    app.cancel(running.id)


def test_pausing_holds_the_queues_jobs_and_resuming_runs_them(page: Page, app: App) -> None:
    page.goto("/dashboard/queues")
    reports = page.locator('tr[data-queue="reports"]')

    reports.get_by_role("button", name="Pause").click()

    expect(page.locator(".flash")).to_have_text(
        "Paused queue reports: its waiting jobs stay until it is resumed."
    )
    expect(reports.locator("[data-paused]")).to_have_text("paused")
    expect(reports.locator("[data-paused-since]")).to_contain_text("by dashboard")
    assert app.queue_info("reports").paused
    held = app.enqueue("add", {"a": 1, "b": 2}, queue="reports")
    # The page follows the queue live: the job shows up waiting, then runs once resumed.
    expect(reports.locator('[data-depth-state="pending"]')).to_have_text("pending 1")
    expect(reports.locator("[data-oldest-waiting] time")).to_have_count(1)

    reports.get_by_role("button", name="Resume").click()

    expect(page.locator(".flash")).to_have_text("Resumed queue reports.")
    wait_finished(app, held.id)
    assert app.get(held.id).result == 3
    expect(reports.locator('[data-depth-state="completed"]')).to_have_text("completed 1")
    expect(reports.locator("[data-paused]")).to_have_count(0)
    assert not app.queue_info("reports").paused


def test_only_managers_posting_the_pages_form_may_pause(anonymous: Page, app: App) -> None:
    sign_in(anonymous, VIEW_TOKEN)
    page = anonymous
    page.goto("/dashboard/queues")
    expect(page.locator('tr[data-queue="default"]')).to_have_count(1)
    expect(page.locator("main form[method=post]")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.input_value()

    refused = page.request.post("/dashboard/queues/pause", form={"csrf": csrf, "queue": "default"})
    assert refused.status == 403
    assert "jobs:manage" in refused.text()

    sign_in(page, MANAGE_TOKEN)
    page.goto("/dashboard/queues")
    token = page.locator("input[name=csrf]").first.input_value()
    for form in ({"queue": "default"}, {"csrf": token[:-1] + "x", "queue": "default"}):
        assert page.request.post("/dashboard/queues/pause", form=form).status == 403
    assert not app.queue_info("default").paused
    unknown = page.request.post("/dashboard/queues/resume", form={"csrf": token, "queue": "x"})
    assert unknown.status == 404
    assert page.request.get("/dashboard/queues/pause").status == 405


def test_a_hostile_queue_name_renders_as_text(page: Page, app: App) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    app.pause_queue(XSS, by=XSS)
    page.goto("/dashboard/queues")
    hostile = page.locator("tr[data-queue]").filter(has_text="paused").first

    expect(hostile.locator("strong")).to_have_text(XSS)
    expect(hostile.locator("[data-paused-since]")).to_contain_text(f"by {XSS}")
    hostile.get_by_role("button", name="Resume").click()

    expect(page.locator(".flash")).to_have_text(f"Resumed queue {XSS}.")
    assert not app.queue_info(XSS).paused
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []


PREFIX = "/internal/jobs"


@pytest.fixture
def under_a_prefix(browser: Browser, app: App) -> Iterator[Page]:
    """A signed-in tab on a host app that serves the API and dashboard under PREFIX."""
    host = FastAPI(title="host")
    include_in(host, create_api(app, tokens=TOKENS, streams=FAST_STREAMS), prefix=PREFIX)
    server = LiveServer(host).start()
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(f"{PREFIX}/dashboard/login")
    tab.get_by_label("API token").fill(MANAGE_TOKEN)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab).to_have_url(re.compile(f"{PREFIX}/dashboard$"))
    yield tab
    context.close()
    server.stop()


def test_pause_and_resume_under_a_prefix_stay_under_it(under_a_prefix: Page, app: App) -> None:
    tab = under_a_prefix
    tab.get_by_role("navigation").get_by_role("link", name="Queues").click()
    expect(tab).to_have_url(re.compile(f"{PREFIX}/dashboard/queues$"))
    base = tab.url.removesuffix("dashboard/queues")
    assert [url for url in tab.evaluate(URLS_ON_THE_PAGE) if not url.startswith(base)] == []

    tab.locator('tr[data-queue="default"]').get_by_role("button", name="Pause").click()

    expect(tab).to_have_url(re.compile(f"{PREFIX}/dashboard/queues$"))
    expect(tab.locator(".flash")).to_contain_text("Paused queue default")
    assert app.queue_info("default").paused
    tab.locator('tr[data-queue="default"]').get_by_role("button", name="Resume").click()
    expect(tab.locator(".flash")).to_have_text("Resumed queue default.")
    assert not app.queue_info("default").paused
