"""Job detail page: live progress and logs over server-sent events, cancel, error and retry."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from underway import App

from .support import ALLOWED, wait_finished


def progress_of(page: Page) -> float:
    return float(page.locator(".job-progress progress").evaluate("bar => bar.value"))


def test_progress_and_logs_move_live_and_cancel_stops_the_job(page: Page, app: App) -> None:
    handle = app.enqueue("crunch", {"steps": 2000, "pause": 0.02})
    page.goto(f"/dashboard/jobs/{handle.id}")
    expect(page.locator(".job-head [data-state-badge]")).to_have_text("running")
    page.evaluate("window.notReloaded = true")

    before_progress = progress_of(page)
    before_logs = page.locator("#logs li").count()
    page.wait_for_function(
        "p => document.querySelector('.job-progress progress').value > p", arg=before_progress
    )
    page.wait_for_function(
        "n => document.querySelectorAll('#logs li').length > n + 3", arg=before_logs
    )
    expect(page.locator("[data-message-for]").first).to_have_text(re.compile(r"step \d+ of 2000"))
    assert page.evaluate("window.notReloaded") is True

    page.get_by_role("button", name="Cancel").click()

    expect(page.locator(".job-head [data-state-badge]")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    assert app.get(handle.id).state.value == "cancelled"


def test_failed_job_shows_error_and_traceback_and_retry_runs_it_again(page: Page, app: App) -> None:
    handle = app.enqueue("flaky", {"key": "db-7"})
    wait_finished(app, handle.id)
    page.goto(f"/dashboard/jobs/{handle.id}")

    expect(page.locator(".job-head [data-state-badge]")).to_have_text("failed")
    error = page.locator("[data-error]")
    expect(error).to_contain_text("RuntimeError")
    expect(error).to_contain_text("backend for db-7 is down")
    expect(page.locator("[data-traceback]")).to_contain_text("Traceback (most recent call last)")
    expect(page.locator("[data-attempt]")).to_have_text("1 of 1")

    ALLOWED.add("db-7")
    page.get_by_role("button", name="Retry").click()

    expect(page.locator(".job-head [data-state-badge]")).to_have_text("completed")
    expect(page.locator("[data-result]")).to_have_text('"done db-7"')
    expect(page.locator("[data-attempt]")).to_contain_text("2 of")
    expect(page.locator(".attempts li")).to_have_count(1)
