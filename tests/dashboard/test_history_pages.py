"""History pages: charts per queue and per job name over a window, a job name's runs, failure
rate and percentiles, and the overview's throughput over a day from the history."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from underway import App

from .support import ALLOWED, wait_finished


def history_of(app: App, completed: int, failed: int, reports: int = 0) -> None:
    """Finished jobs, folded into the history at once."""
    ids = [app.enqueue("add", {"a": i}).id for i in range(completed)]
    ids += [app.enqueue("flaky", {"key": f"k{i}"}).id for i in range(failed)]
    ids += [app.enqueue("add", {"a": i}, queue="reports").id for i in range(reports)]
    wait_finished(app, *ids)
    app.roll_up_history(settle_s=0)


def test_the_history_page_charts_each_queue_and_job_name(page: Page, app: App) -> None:
    app.start_worker(queues=["reports"], poll_interval=0.05)
    history_of(app, completed=3, failed=2, reports=4)
    page.goto("/dashboard")
    page.get_by_role("navigation").get_by_role("link", name="History").click()

    expect(page).to_have_url(re.compile(r"/dashboard/history$"))
    expect(page.locator("[data-history-all] .card-head")).to_contain_text("9 finished")
    default = page.locator('[data-history-queue="default"]')
    expect(default).to_contain_text("3 completed · 2 failed")
    expect(page.locator('[data-history-queue="reports"]')).to_contain_text("4 completed")
    expect(page.locator('[data-history-name="add"]')).to_contain_text("7 completed")
    expect(default.locator(".chart-ok")).not_to_have_count(0)
    expect(default.locator(".chart-bad")).not_to_have_count(0)

    page.locator('[data-window="1h"]').click()
    expect(page).to_have_url(re.compile(r"/dashboard/history\?window=1h$"))
    expect(page.locator('[data-window="1h"]')).to_have_class("current")
    expect(page.locator("[data-history-all] .chart g")).to_have_count(60)

    page.locator('[data-history-name="flaky"] h3 a').click()
    expect(page).to_have_url(re.compile(r"/dashboard/history/flaky\?window=1h$"))


def test_a_job_names_page_shows_runs_failure_rate_and_percentiles(page: Page, app: App) -> None:
    ALLOWED.add("k3")
    history_of(app, completed=0, failed=4)

    page.goto("/dashboard/history/flaky")

    expect(page.locator("[data-job-name]")).to_have_text("flaky")
    expect(page.locator('[data-tile="runs"] .tile-value')).to_have_text("4")
    expect(page.locator('[data-tile="failure-rate"] .tile-value')).to_have_text("75.0%")
    expect(page.locator('[data-tile="duration"] .tile-value')).to_have_text(re.compile(r"\d"))
    expect(page.locator('[data-tile="wait"] .tile-note')).to_contain_text("p95")
    expect(page.locator('[data-chart="runs"] .chart-bad')).not_to_have_count(0)
    expect(page.locator('[data-chart="duration"] .chart-ok')).not_to_have_count(0)
    expect(page.locator('[data-chart="wait"] .chart-ok')).not_to_have_count(0)
    expect(page.locator('[data-chart="runs"] .chart g')).to_have_count(144)

    page.locator('[data-window="7d"]').click()
    expect(page).to_have_url(re.compile(r"/dashboard/history/flaky\?window=7d$"))
    expect(page.locator('[data-chart="runs"] .chart g')).to_have_count(168)
    expect(page.locator('[data-tile="failure-rate"] .tile-value')).to_have_text("75.0%")


def test_the_overview_charts_a_day_and_a_week_from_the_history(page: Page, app: App) -> None:
    history_of(app, completed=5, failed=1)
    page.goto("/dashboard")
    expect(page.locator('[data-throughput="1h"]')).to_contain_text("last hour")

    page.locator('[data-throughput] [data-window="24h"]').click()

    expect(page).to_have_url(re.compile(r"/dashboard\?window=24h$"))
    day = page.locator('[data-throughput="24h"]')
    expect(day).to_contain_text("last 24 hours · 6 finished")
    expect(day.locator(".chart g")).to_have_count(144)
    expect(day.locator(".chart-bad")).to_have_count(1)
    page.locator('[data-throughput] [data-window="7d"]').click()
    expect(page.locator('[data-throughput="7d"]')).to_contain_text("last 7 days · 6 finished")
