"""Fixtures: Chromium driven by Playwright against a real uvicorn server with a worker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from underway import App
from underway.api import StreamSettings, create_api

from ..api.support import LiveServer
from .support import (
    ALLOWED,
    CHROMIUM,
    CHROMIUM_ARGS,
    MANAGE_TOKEN,
    TOKENS,
    build_app,
    chromium_missing_message,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

try:
    import playwright  # noqa: F401
except ImportError:
    raise ImportError(
        "the dashboard tests need Playwright for Python: pip install -e '.[dev]'"
    ) from None

FAST_STREAMS = StreamSettings(poll_s=0.1, max_s=60.0)
TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for these tests; fails clearly when it is not installed.

    Package scope: Playwright's sync API keeps an event loop running in this thread, which
    would stop later packages' asyncio tests, so it closes when the dashboard tests are done.
    """
    missing = chromium_missing_message()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    app.start_worker(concurrency=4, poll_interval=0.05, flush_interval=0.05, shutdown_grace=1.0)
    yield app
    app.close()
    ALLOWED.clear()


@pytest.fixture
def server(app: App) -> Iterator[LiveServer]:
    """The API and dashboard of `app` on 127.0.0.1 and a free port, protected by tokens."""
    server = LiveServer(create_api(app, tokens=TOKENS, streams=FAST_STREAMS)).start()
    yield server
    server.stop()


@pytest.fixture
def anonymous(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """A fresh browser tab with no session."""
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page(anonymous: Page) -> Page:
    """A browser tab signed in with a jobs:manage token."""
    sign_in(anonymous, MANAGE_TOKEN)
    return anonymous


def sign_in(page: Page, token: str) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
