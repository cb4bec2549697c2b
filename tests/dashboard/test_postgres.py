"""The dashboard on PostgreSQL: the same pages and live updates, read through the same App."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from underway import App, chain, group

from ..api.support import LiveServer
from .support import ALLOWED, MANAGE_TOKEN, build_app, wait_finished

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_url: str) -> Iterator[App]:
    app = build_app(pg_url)
    app.start_worker(concurrency=4, poll_interval=0.05, flush_interval=0.05, shutdown_grace=1.0)
    yield app
    app.close()
    ALLOWED.clear()


def test_pages_counts_search_and_live_logs_on_postgres(
    page: Page, app: App, server: LiveServer
) -> None:
    done = [app.enqueue("add", {"a": i}).id for i in range(3)]
    failed = app.enqueue("flaky", {"key": "pg-1"}).id
    wait_finished(app, *done, failed)
    headers = {"Authorization": f"Bearer {MANAGE_TOKEN}"}
    stats = httpx.get(f"{server.url}/api/stats", headers=headers).json()

    page.goto("/dashboard")
    for state, count in stats["counts"].items():
        expect(page.locator(f'[data-state-count="{state}"]')).to_have_text(str(count))
    page.goto("/dashboard/jobs?state=failed&q=pg-1")
    expect(page.locator("tr[data-job-row]")).to_have_count(1)

    job = app.enqueue("crunch", {"steps": 2000, "pause": 0.02})
    page.goto(f"/dashboard/jobs/{job.id}")
    shown = page.locator("#logs li").count()
    page.wait_for_function("n => document.querySelectorAll('#logs li').length > n + 3", arg=shown)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".job-head [data-state-badge]")).to_have_text("cancelled")


def test_a_workflow_by_stage_live_cancel_and_retry_on_postgres(page: Page, app: App) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    flow = chain(
        app.step("held", {"key": "pg-flow"}),
        group(app.step("add", {"a": 1}), app.step("add", {"a": 2})),
        app.step("add", {"a": 3}),
    )
    handle = app.start(flow, name="pg flow")
    held, *_, last = (job.id for job in handle.jobs())
    head = page.locator("[data-workflow-head] .job-title [data-state-badge]")

    page.goto("/dashboard/workflows")
    page.get_by_role("link", name="pg flow").click()
    expect(page.locator("[data-stage]")).to_have_count(3)
    expect(page.locator(f'[data-member="{held}"] [data-state-badge]')).to_have_text("running")
    expect(page.locator(f'[data-member="{last}"] [data-waiting-on]')).to_have_text(
        "waits for 2 more"
    )
    page.get_by_role("button", name="Cancel").click()
    expect(head).to_have_text("cancelled")

    ALLOWED.add("pg-flow")
    page.get_by_role("button", name="Retry").click()
    expect(head).to_have_text("completed")
    expect(page.locator(f'[data-member="{last}"] [data-state-badge]')).to_have_text("completed")
