"""The job list during an incident: why each row failed, its attempt and duration, a search over
error text that reads one page of matches at a time, and sorts by start and duration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.waiting import wait_until
from underway import App
from underway.dashboard import job_list

from .support import ALLOWED, build_app, wait_finished

RETRY_LATER_S = 3600.0


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """The dashboard tests' app, plus a job that retries at once, then only in an hour."""
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")

    @app.job(retries=3, backoff=lambda attempt: 0.0 if attempt < 2 else RETRY_LATER_S)
    def wobbly(key: str) -> None:
        """Fails every time with the upstream's answer."""
        raise ConnectionError(f"upstream 503 for {key}\nsecond line of the message")

    app.start_worker(concurrency=4, poll_interval=0.05, flush_interval=0.05, shutdown_grace=1.0)
    yield app
    app.close()
    ALLOWED.clear()


def row(page: Page, job_id: str) -> Locator:
    return page.locator(f'tr[data-job-row="{job_id}"]')


def test_rows_say_why_a_job_failed_or_retries_its_attempt_and_duration(
    page: Page, app: App
) -> None:
    retrying = app.enqueue("wobbly", {"key": "eu-1"}).id
    failed = app.enqueue("flaky", {"key": "db-7"}).id
    done = app.enqueue("add", {"a": 1}).id
    wait_finished(app, failed, done)
    wait_until(lambda: app.get(retrying).attempt == 2 and app.get(retrying).error, timeout=10)

    page.goto("/dashboard/jobs")

    expect(row(page, retrying).locator("[data-row-error]")).to_have_text(
        "ConnectionError: upstream 503 for eu-1"
    )
    expect(row(page, retrying).locator("[data-attempt]")).to_have_text("attempt 2 of 4")
    expect(row(page, retrying).locator("[data-retry-at]")).to_contain_text("retries")
    expect(row(page, failed).locator("[data-row-error]")).to_have_text(
        "RuntimeError: backend for db-7 is down"
    )
    expect(row(page, failed).locator("[data-attempt]")).to_have_text("attempt 1 of 1")
    expect(row(page, done).locator("[data-row-error]")).to_have_count(0)
    expect(row(page, done).locator("[data-attempt]")).to_have_count(0)  # no retries to count
    expect(row(page, done).locator("[data-duration]")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(page.get_by_text(re.compile(r"#\d"))).to_have_count(0)


def test_a_search_finds_error_text_one_bounded_scan_at_a_time(
    page: Page, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_list, "SEARCH_SCAN", 3)
    failed = [app.enqueue("flaky", {"key": f"eu-{n}"}).id for n in range(2)]
    wait_finished(app, *failed)
    newer = [app.enqueue("add", {"a": n}).id for n in range(3)]
    wait_finished(app, *newer)

    page.goto("/dashboard/jobs")
    page.get_by_label("Search").fill("IS DOWN")
    page.get_by_label("Search").press("Enter")

    rows = page.locator("tr[data-job-row]")
    expect(rows).to_have_count(0)
    expect(page.locator("[data-search-summary]")).to_have_text(
        "0 matches on this page; searched 3 jobs, older ones not yet"
    )
    page.get_by_role("link", name=re.compile("^Search older")).click()
    expect(rows).to_have_count(2)
    expect(rows.locator("[data-row-error]")).to_have_text(
        ["RuntimeError: backend for eu-1 is down", "RuntimeError: backend for eu-0 is down"]
    )
    expect(page.locator("[data-search-summary]")).to_have_text(
        "2 matches on this page; searched back to the oldest job"
    )
    page.get_by_role("link", name=re.compile("Newest$")).click()
    expect(rows).to_have_count(0)


def test_sorting_by_duration_and_start_reorders_the_list(page: Page, app: App) -> None:
    app.pause_queue("reports")  # so that the first job stored starts last
    delayed = app.enqueue("add", {"a": 1}, queue="reports").id
    slow = app.enqueue("crunch", {"steps": 3, "pause": 0.1}).id
    wait_finished(app, slow)
    quick = app.enqueue("add", {"a": 2}).id
    wait_finished(app, quick)
    app.resume_queue("reports")
    wait_finished(app, delayed)
    shown = page.locator("tr[data-job-row]")

    def order() -> list[str]:
        expect(shown).to_have_count(3)
        ids: list[str] = shown.evaluate_all("rows => rows.map(r => r.dataset.jobRow)")
        return ids

    page.goto("/dashboard/jobs")
    assert order() == [quick, slow, delayed]
    page.get_by_label("Sort").select_option("duration")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"sort=duration"))
    assert order()[0] == slow
    page.get_by_label("Sort").select_option("started")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("th").filter(has_text="Started")).to_have_count(1)
    assert order() == [delayed, quick, slow]

    page.goto("/dashboard/jobs?sort=size")
    expect(page.locator("main")).to_contain_text("Sort by created, started, duration, not 'size'.")


def test_a_large_listing_counts_up_to_a_limit_and_still_pages_on(
    page: Page, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_list, "PER_PAGE", 2)
    monkeypatch.setattr(job_list, "COUNT_LIMIT", 3)
    for n in range(5):
        app.enqueue("add", {"a": n}, delay=3600)

    page.goto("/dashboard/jobs")
    pager = page.locator(".pager")
    expect(pager).to_contain_text(re.compile(r"1\W2 of 3\+"))
    expect(pager).to_contain_text("page 1 of 2+")
    page.locator("a[rel=next]").click()
    page.locator("a[rel=next]").click()
    expect(page.locator("tr[data-job-row]")).to_have_count(1)
    expect(page.locator("a[rel=next]")).to_have_count(0)
