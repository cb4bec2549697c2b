"""The job page says which retry rule decided what the job's error led to."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from underway import App

from .support import wait_finished


def test_the_job_page_shows_the_rule_that_failed_the_job(page: Page, app: App) -> None:
    @app.job(retries=3, discard_on=ValueError)
    def parse(text: str) -> None:
        raise ValueError(f"cannot read {text!r}")

    handle = parse.enqueue("May 32")
    wait_finished(app, handle.id)
    page.goto(f"/dashboard/jobs/{handle.id}")
    expect(page.locator("[data-error]")).to_contain_text("cannot read 'May 32'")
    expect(page.locator("[data-error] [data-rule]")).to_have_text("rule: discard_on: ValueError")
    expect(page.locator(".attempts li")).to_contain_text("rule: discard_on: ValueError")
