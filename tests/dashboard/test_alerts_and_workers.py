"""Alerts on the overview (queues nobody serves, jobs waiting too long, failure rates above
normal) and the Workers page (live workers with the jobs they hold, lost workers with what
became of their jobs)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.waiting import wait_until
from underway import App, JobState
from underway.api import create_api
from underway.app.alerts import AlertRules
from underway.models import WorkerInfo

from ..api.support import LiveServer
from .conftest import FAST_STREAMS, TIMEOUT_MS, sign_in
from .support import MANAGE_TOKEN, TOKENS, wait_finished

STRICT = AlertRules(oldest_waiting_s=0.05)


@pytest.fixture
def strict_page(browser: Browser, app: App) -> Iterator[Page]:
    """A signed-in tab on a server whose oldest-waiting threshold is a twentieth of a second."""
    server = LiveServer(
        create_api(app, tokens=TOKENS, streams=FAST_STREAMS, alert_rules=STRICT)
    ).start()
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, MANAGE_TOKEN)
    yield page
    context.close()
    server.stop()


def test_the_overview_warns_of_a_queue_nobody_serves_and_a_job_waiting_too_long(
    strict_page: Page, app: App
) -> None:
    page = strict_page
    expect(page.locator("[data-alerts] .empty")).to_contain_text("Nothing needs you")
    app.enqueue("add", {"a": 1}, queue="nobody-serves-this")
    wait_until(lambda: len(app.alerts(STRICT)) == 2)

    page.reload()

    lonely = page.locator('[data-alert="no_live_worker"][data-subject="nobody-serves-this"]')
    expect(lonely).to_contain_text("1 job waits in queue 'nobody-serves-this'")
    expect(page.locator('[data-alert="oldest_waiting"]')).to_contain_text("threshold 0 s")
    lonely.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/dashboard/queues$"))


def test_the_overview_warns_of_a_failure_rate_above_normal(page: Page, app: App) -> None:
    ids = [app.enqueue("flaky", {"key": f"k{i}"}).id for i in range(10)]
    wait_finished(app, *ids)
    app.roll_up_history(settle_s=0)

    page.goto("/dashboard")

    alert = page.locator('[data-alert="failure_rate"][data-subject="flaky"]')
    expect(alert).to_contain_text("flaky failed 100% of 10 runs in the last 15 min; normal is 0%")
    expect(page.locator("[data-normal]")).to_contain_text("over the 7 days before that")
    alert.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/dashboard/history/flaky\?window=24h$"))
    expect(page.locator('[data-tile="failure-rate"] .tile-value')).to_have_text("100.0%")


def test_the_workers_page_shows_the_jobs_a_live_worker_holds(page: Page, app: App) -> None:
    running = app.enqueue("crunch", {"steps": 2000, "pause": 0.02})
    wait_until(lambda: app.get(running.id).state is JobState.RUNNING)
    worker_id = app.running_workers[0].worker.id
    page.goto("/dashboard")
    page.get_by_role("navigation").get_by_role("link", name="Workers").click()

    expect(page).to_have_url(re.compile(r"/dashboard/workers$"))
    live = page.locator(f'[data-live-workers] [data-worker="{worker_id}"]')
    expect(live.locator(f'[data-held="{running.id}"]')).to_contain_text("crunch")
    expect(page.locator("[data-lost-workers] .empty")).to_have_text("No worker was lost lately.")
    app.cancel(running.id)
    expect(live.locator("text=holds no job")).to_be_visible()


async def lose_a_worker(app: App) -> str:
    """A worker on box-9 claims a job, stops heartbeating and is swept: the id of its job."""
    backend = await app.backend()
    now = datetime.now(UTC)
    await backend.heartbeat(WorkerInfo("gone-1", "box-9", 99, ("orphans",), 1, now, now), [])
    [claimed] = await backend.claim("gone-1", ("orphans",), 1)
    await asyncio.sleep(0.01)
    await backend.sweep(stall_timeout_s=0.005)
    return claimed.id


def test_the_workers_page_shows_a_lost_worker_and_what_became_of_its_job(
    page: Page, app: App
) -> None:
    app.enqueue("add", {"a": 1}, queue="orphans")
    job_id = app.run_blocking(lose_a_worker(app))

    page.goto("/dashboard/workers")

    expect(page.locator('[data-live-workers] [data-worker="gone-1"]')).to_have_count(0)
    lost = page.locator('[data-lost-worker="gone-1"]')
    expect(lost.locator(".worker-head")).to_contain_text("box-9")
    expect(lost.locator(".worker-head")).to_contain_text("last seen")
    loss = lost.locator(f'[data-loss="{job_id}"]')
    expect(loss).to_contain_text("add")
    expect(loss).to_contain_text("pending")
    expect(loss).to_contain_text("runs again, no retry spent")
    loss.get_by_role("link", name="add").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/jobs/{job_id}$"))
