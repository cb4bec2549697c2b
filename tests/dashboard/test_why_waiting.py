"""The job page says why a waiting job waits, links the jobs that hold it (under the prefix
the dashboard is served at), and drops the lines once the job runs."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from tests.waiting import wait_until
from underway import App, JobState
from underway.api import create_api, include_in

from ..api.support import LiveServer
from .conftest import FAST_STREAMS, TIMEOUT_MS
from .support import MANAGE_TOKEN, TOKENS, build_app

PREFIX = "/internal/jobs"
#: Set to let the `serial` jobs end.
RELEASED = threading.Event()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """The dashboard tests' app, with a job of which one runs at a time."""
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")

    @app.job(concurrency=1)
    async def serial(n: int) -> int:
        while not RELEASED.is_set():  # noqa: ASYNC110 (a threading.Event, set by the test)
            await asyncio.sleep(0.02)
        return n

    app.start_worker(concurrency=4, poll_interval=0.05, flush_interval=0.05, shutdown_grace=1.0)
    yield app
    RELEASED.set()
    app.close()
    RELEASED.clear()


@pytest.fixture
def mounted(app: App) -> Iterator[LiveServer]:
    """A host app with the API and dashboard of `app` under PREFIX."""
    host = FastAPI(title="host")
    include_in(host, create_api(app, tokens=TOKENS, streams=FAST_STREAMS), prefix=PREFIX)
    server = LiveServer(host).start()
    yield server
    server.stop()


@pytest.fixture
def tab(browser: Browser, mounted: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=mounted.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{PREFIX}/dashboard/login")
    page.get_by_label("API token").fill(MANAGE_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{PREFIX}/dashboard")
    yield page
    context.close()


def running_and_waiting(app: App) -> tuple[str, str]:
    """A `serial` job running, and another one held behind it."""
    running = app.enqueue("serial", {"n": 1}).id
    wait_until(lambda: app.get(running).state is JobState.RUNNING)
    return running, app.enqueue("serial", {"n": 2}).id


def test_a_waiting_job_names_what_holds_it_and_links_the_job_that_does(tab: Page, app: App) -> None:
    running, waiting = running_and_waiting(app)

    tab.goto(f"{PREFIX}/dashboard/jobs/{waiting}")

    why = tab.locator("[data-why-waiting]")
    expect(why.get_by_role("heading")).to_have_text("Why it is waiting")
    line = why.locator('li[data-kind="concurrency_key"]')
    expect(line).to_have_text(f"concurrency key job:serial is full: 1/1 running ({running})")
    line.get_by_role("link", name=running).click()
    expect(tab).to_have_url(f"{PREFIX}/dashboard/jobs/{running}")
    expect(tab.locator(".job-head [data-state-badge]")).to_have_text("running")
    expect(tab.locator("[data-why-waiting]")).to_have_count(0)


def test_the_lines_go_once_the_waiting_job_runs(tab: Page, app: App) -> None:
    _, waiting = running_and_waiting(app)
    tab.goto(f"{PREFIX}/dashboard/jobs/{waiting}")
    expect(tab.locator("[data-why-waiting] li")).to_have_count(1)
    tab.evaluate("window.notReloaded = true")

    RELEASED.set()

    expect(tab.locator(".job-head [data-state-badge]")).to_have_text(
        re.compile("running|completed")
    )
    expect(tab.locator("[data-why-waiting]")).to_have_count(0)
    assert tab.evaluate("window.notReloaded") is True
