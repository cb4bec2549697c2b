"""No tokens configured: no sign-in but CSRF still applies. Pages fit a phone-sized screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from underway import App
from underway.api import create_api

from ..api.support import LiveServer
from .conftest import FAST_STREAMS, TIMEOUT_MS
from .support import wait_finished

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def open_page(browser: Browser, app: App) -> Iterator[Page]:
    """A tab on a server with no tokens (local open mode)."""
    server = LiveServer(create_api(app, streams=FAST_STREAMS)).start()
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()
    server.stop()


def test_open_mode_needs_no_sign_in_but_checks_the_csrf_token(open_page: Page, app: App) -> None:
    job = app.enqueue("flaky", {"key": "open"})
    wait_finished(app, job.id)
    open_page.goto("/")

    expect(open_page).to_have_url(re.compile(r"/dashboard$"))
    expect(open_page.locator(".topbar .pill")).to_have_text("local")
    open_page.goto(f"/dashboard/jobs/{job.id}")
    expect(open_page.get_by_role("button", name="Retry")).to_be_visible()

    assert open_page.request.post(f"/dashboard/jobs/{job.id}/retry", form={}).status == 403
    assert app.get(job.id).state.value == "failed"
    open_page.get_by_role("button", name="Retry").click()
    expect(open_page.locator(".flash")).to_contain_text("Queued again")


def test_every_page_fits_a_phone_screen_without_sideways_scrolling(page: Page, app: App) -> None:
    job = app.enqueue("flaky", {"key": "a-rather-long-key-" * 4})
    wait_finished(app, job.id)
    app.add_recurring("nightly totals for every tenant", "0 3 * * *", "add", {"a": 1})
    page.set_viewport_size(PHONE)

    pages = ["/dashboard", "/dashboard/jobs", f"/dashboard/jobs/{job.id}", "/dashboard/recurring"]
    for url in pages:
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} is {overflow}px wider than a phone"
