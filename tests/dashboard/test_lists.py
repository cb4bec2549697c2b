"""Job list (filters, pagination, bulk actions) and the overview's counts against /api/stats."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from underway import App

from ..api.support import LiveServer
from .support import ALLOWED, MANAGE_TOKEN, wait_finished


def enqueue_finished(app: App, completed: int, failed: int) -> list[str]:
    ids = [app.enqueue("add", {"a": i}).id for i in range(completed)]
    ids += [app.enqueue("flaky", {"key": f"k{i}"}).id for i in range(failed)]
    wait_finished(app, *ids)
    return ids


def test_list_filters_by_state_and_paginates(page: Page, app: App) -> None:
    enqueue_finished(app, completed=25, failed=3)
    page.goto("/dashboard/jobs")
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url("/dashboard/jobs?state=failed&name=&queue=&q=&sort=created")
    rows = page.locator("tr[data-job-row]")
    expect(rows).to_have_count(3)
    expect(rows.locator("[data-state-badge]")).to_have_text(["failed"] * 3)

    page.goto("/dashboard/jobs?state=completed")
    expect(rows).to_have_count(20)
    expect(page.locator(".pager")).to_contain_text(re.compile(r"\b1\W20 of 25"))
    page.locator("a[rel=next]").click()
    expect(rows).to_have_count(5)
    expect(page.locator(".pager")).to_contain_text(re.compile(r"\b21\W25 of 25"))
    expect(page.locator(".pager")).to_contain_text("page 2 of 2")


def test_search_finds_jobs_by_their_arguments(page: Page, app: App) -> None:
    enqueue_finished(app, completed=0, failed=2)
    page.goto("/dashboard/jobs")
    page.get_by_label("Search").fill("k1")
    page.get_by_label("Search").press("Enter")

    expect(page.locator("tr[data-job-row]")).to_have_count(1)
    expect(page.locator("tr[data-job-row] .args")).to_contain_text('"key": "k1"')


def test_bulk_retry_runs_the_selected_failed_jobs_again(page: Page, app: App) -> None:
    ids = enqueue_finished(app, completed=0, failed=2)
    ALLOWED.update({"k0", "k1"})
    page.goto("/dashboard/jobs?state=failed")
    page.get_by_label("Select all on this page").check()
    expect(page.locator("[data-selected-count]")).to_have_text("2 selected")
    page.get_by_role("button", name="Retry selected").click()

    expect(page.locator(".flash")).to_have_text("Retried 2 of 2 selected jobs.")
    wait_finished(app, *ids)
    assert {app.get(job_id).state.value for job_id in ids} == {"completed"}


def test_overview_counts_match_the_api_stats(page: Page, app: App, server: LiveServer) -> None:
    enqueue_finished(app, completed=4, failed=2)
    app.enqueue("add", {"a": 1}, delay=3600)
    headers = {"Authorization": f"Bearer {MANAGE_TOKEN}"}
    stats = httpx.get(f"{server.url}/api/stats", headers=headers).json()

    page.goto("/dashboard")

    for state, count in stats["counts"].items():
        expect(page.locator(f'[data-state-count="{state}"]')).to_have_text(str(count))
    expect(page.locator('[data-count="failed"] .tile-value')).to_have_text("2")
    expect(page.locator('[data-count="scheduled"] .tile-value')).to_have_text("1")
    expect(page.locator(".chart .chart-ok")).not_to_have_count(0)
    expect(page.locator(".worker")).to_have_count(1)


def test_overview_updates_live_when_a_job_fails(page: Page, app: App) -> None:
    page.goto("/dashboard")
    expect(page.locator('[data-count="failed"] .tile-value')).to_have_text("0")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("[data-live-status]")).to_have_class("live-dot on")

    enqueue_finished(app, completed=0, failed=1)

    expect(page.locator('[data-count="failed"] .tile-value')).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True
