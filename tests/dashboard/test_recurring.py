"""Recurring page: cron in words, pause and resume, run now, delete."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from underway import App


def test_toggle_and_trigger_show_up_in_the_list(page: Page, app: App) -> None:
    app.add_recurring("nightly totals", "0 3 * * *", "add", {"a": 40})
    page.goto("/dashboard/recurring")
    row = page.locator('tr[data-recurring-name="nightly totals"]')
    expect(row.locator("[data-cron-words]")).to_contain_text("03:00")
    expect(row.locator("[data-last-run]")).to_have_text("never")

    row.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash")).to_have_text("nightly totals is now disabled.")
    expect(row.locator("[data-disabled]")).to_have_text("paused")
    assert not app.list_recurring()[0].enabled

    row.get_by_role("button", name="Resume").click()
    expect(row.locator("[data-disabled]")).to_have_count(0)
    assert app.list_recurring()[0].enabled

    row.get_by_role("button", name="Run now").click()
    expect(page.locator(".flash")).to_contain_text("Started a run now")
    expect(row.locator("[data-last-run] [data-state-badge]")).to_have_text("completed")
    last = app.list_recurring()[0].last_job_id
    assert last is not None
    assert app.get(last).result == 42


def test_delete_removes_the_definition(page: Page, app: App) -> None:
    app.add_recurring("hourly", "@hourly", "add", {"a": 1})
    page.goto("/dashboard/recurring")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()

    expect(page.locator(".flash")).to_have_text("Recurring job deleted.")
    expect(page.locator("tr[data-recurring]")).to_have_count(0)
    assert app.list_recurring() == []
