"""The dashboard in a host FastAPI app under a prefix: styled, signed in with a cookie for the
prefix only, and every link, form, redirect, stream and asset stays under the prefix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, Request, Response, expect

from underway import App, chain
from underway.api import create_api, include_in
from underway.dashboard.access import safe_next

from ..api.support import LiveServer
from .conftest import FAST_STREAMS, TIMEOUT_MS
from .support import ALLOWED, MANAGE_TOKEN, TOKENS

PREFIXES = ["/jobs", "/internal/jobs"]
#: What every element pointing somewhere points at, resolved by the browser.
URLS_ON_THE_PAGE = """() => {
  const names = ["href", "src", "action", "data-live", "data-stream", "data-openapi"];
  return [...document.querySelectorAll(names.map(name => `[${name}]`).join(","))].flatMap(
    e => names.filter(name => e.hasAttribute(name)).map(
      name => new URL(e.getAttribute(name), location.href).href));
}"""


@dataclass
class Traffic:
    """Every request the tab made, and the ones that failed or were answered with an error."""

    requested: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Set as the test signs out: from then on the page's live parts may be answered after the
    #: session has ended.
    signing_out: bool = False

    def on_request(self, request: Request) -> None:
        self.requested.append(request.url)

    def on_failure(self, request: Request) -> None:
        # Leaving a page closes its event stream and cuts short the live fragments and the
        # favicon still loading, which Chromium reports as aborted. A server error is a
        # response, and a request outside the prefix answers 404.
        by_script = request.resource_type in ("eventsource", "fetch")
        left = by_script or request.url.endswith("/favicon.svg")
        if not (left and request.failure == "net::ERR_ABORTED"):
            self.problems.append(f"{request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        by_script = response.request.resource_type in ("eventsource", "fetch")
        signed_out = self.signing_out and by_script and response.status == 401
        if response.status >= 400 and not signed_out:
            self.problems.append(f"{response.url}: {response.status}")


@pytest.fixture(params=PREFIXES)
def prefix(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def mounted(app: App, prefix: str) -> Iterator[LiveServer]:
    """A host app with the API and dashboard of `app` under `prefix`, on a real server."""
    host = FastAPI(title="host")
    include_in(host, create_api(app, tokens=TOKENS, streams=FAST_STREAMS), prefix=prefix)
    server = LiveServer(host).start()
    yield server
    server.stop()


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def tab(browser: Browser, mounted: LiveServer, traffic: Traffic) -> Iterator[Page]:
    context = browser.new_context(base_url=mounted.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("request", traffic.on_request)
    page.on("requestfailed", traffic.on_failure)
    page.on("response", traffic.on_response)
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


def sign_in_under(tab: Page, prefix: str) -> None:
    tab.goto(f"{prefix}/dashboard")
    expect(tab).to_have_url(f"{prefix}/dashboard/login?next={quote(prefix + '/dashboard', '')}")
    tab.get_by_label("API token").fill(MANAGE_TOKEN)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab).to_have_url(f"{prefix}/dashboard")


def assert_everything_points_under(tab: Page, base: str) -> None:
    urls: list[str] = tab.evaluate(URLS_ON_THE_PAGE)
    assert urls
    assert [url for url in urls if not url.startswith(base)] == []


def test_the_dashboard_under_a_prefix_is_styled_and_stays_under_it(
    tab: Page, mounted: LiveServer, prefix: str, traffic: Traffic
) -> None:
    base = f"{mounted.url}{prefix}/"
    sign_in_under(tab, prefix)

    [cookie] = [c for c in tab.context.cookies() if c["name"] == "underway_session"]
    assert cookie["path"] == f"{prefix}/dashboard"
    expect(tab.locator(".topbar")).to_have_css("display", "flex")
    assert tab.evaluate("document.styleSheets[0].cssRules.length") > 0
    assert_everything_points_under(tab, base)

    submitted = tab.request.post(
        f"{prefix}/api/jobs/crunch",
        data={"steps": 2000, "pause": 0.02},
        headers={"Authorization": f"Bearer {MANAGE_TOKEN}"},
    )
    assert submitted.status == 202
    job_id = submitted.json()["id"]
    assert submitted.headers["location"] == f"{base}api/jobs/{job_id}"

    tab.get_by_role("navigation").get_by_role("link", name="Jobs").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/jobs")
    assert_everything_points_under(tab, base)
    tab.get_by_role("link", name="crunch").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/jobs/{job_id}")
    expect(tab.locator("[data-live-status]")).to_have_class("live-dot on")
    expect(tab.locator("[data-message-for]")).to_have_text(re.compile(r"step \d+ of 2000"))
    assert_everything_points_under(tab, base)

    tab.get_by_role("button", name="Cancel").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/jobs/{job_id}")
    expect(tab.locator(".flash")).to_have_text(f"Cancel requested: job {job_id}.")
    expect(tab.locator(".job-head [data-state-badge]")).to_have_text("cancelled")

    tab.get_by_role("navigation").get_by_role("link", name="Jobs").click()
    tab.get_by_label(f"Select {job_id}").check()
    tab.get_by_role("button", name="Retry selected").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/jobs")
    expect(tab.locator(".flash")).to_have_text("Retried 1 of 1 selected jobs.")

    tab.get_by_role("navigation").get_by_role("link", name="Recurring").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/recurring")
    assert_everything_points_under(tab, base)
    traffic.signing_out = True
    tab.get_by_role("button", name="Sign out").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/login")
    # Signed out, the sign-in page starts a fresh anonymous session, also under the prefix.
    [fresh] = [c for c in tab.context.cookies() if c["name"] == "underway_session"]
    assert (fresh["path"], fresh["value"] == cookie["value"]) == (f"{prefix}/dashboard", False)

    assert traffic.problems == []
    assert [url for url in traffic.requested if not url.startswith(base)] == []


def test_the_api_docs_under_a_prefix_load_the_prefixed_document(
    tab: Page, mounted: LiveServer, prefix: str, traffic: Traffic
) -> None:
    base = f"{mounted.url}{prefix}/"
    sign_in_under(tab, prefix)

    with tab.expect_response(f"{base}dashboard/api-docs/openapi.json") as document:
        tab.goto(f"{prefix}/docs")
    expect(tab).to_have_url(f"{prefix}/dashboard/api-docs")
    assert document.value.status == 200
    assert document.value.json()["servers"] == [{"url": prefix}]
    expect(tab.locator(".opblock-summary-path", has_text="/api/jobs/add")).to_be_visible()
    assert_everything_points_under(tab, base)

    tab.get_by_role("link", name="underway dashboard").click()
    expect(tab).to_have_url(f"{prefix}/dashboard")
    assert traffic.problems == []
    assert [url for url in traffic.requested if not url.startswith(base)] == []


def test_the_workflow_pages_under_a_prefix_stay_under_it_and_update_live(
    tab: Page, mounted: LiveServer, prefix: str, traffic: Traffic, app: App
) -> None:
    base = f"{mounted.url}{prefix}/"
    flow = chain(app.step("held", {"key": "mounted"}), app.step("add", {"a": 1}))
    handle = app.start(flow, name="mounted flow")
    held, after = (job.id for job in handle.jobs())
    sign_in_under(tab, prefix)

    tab.get_by_role("navigation").get_by_role("link", name="Workflows").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/workflows")
    assert_everything_points_under(tab, base)
    tab.get_by_role("link", name="mounted flow").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/workflows/{handle.id}")
    expect(tab.locator("[data-live-status]")).to_have_class("live-dot on")
    assert_everything_points_under(tab, base)

    tab.get_by_role("button", name="Cancel").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/workflows/{handle.id}")
    expect(tab.locator(".flash")).to_have_text(f"Cancel requested: workflow {handle.id}.")
    head = tab.locator("[data-workflow-head] .job-title [data-state-badge]")
    expect(head).to_have_text("cancelled")
    ALLOWED.add("mounted")
    tab.get_by_role("button", name="Retry").click()
    expect(head).to_have_text("completed")

    tab.locator(f'[data-member="{after}"] a').click()
    expect(tab).to_have_url(f"{prefix}/dashboard/jobs/{after}")
    assert_everything_points_under(tab, base)
    tab.locator("[data-workflow-link] a").click()
    expect(tab).to_have_url(f"{prefix}/dashboard/workflows/{handle.id}")
    expect(tab.locator(f'[data-member="{held}"] [data-state-badge]')).to_have_text("completed")
    assert traffic.problems == []
    assert [url for url in traffic.requested if not url.startswith(base)] == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/jobs/dashboard/jobs?state=failed", "/jobs/dashboard/jobs?state=failed"),
        ("/dashboard/jobs", "/jobs/dashboard"),
        ("/other/dashboard", "/jobs/dashboard"),
        ("//evil.example/jobs/dashboard", "/jobs/dashboard"),
        (None, "/jobs/dashboard"),
    ],
)
def test_only_dashboard_paths_under_the_prefix_are_places_to_return_to(
    target: str | None, expected: str
) -> None:
    assert safe_next(target, "/jobs") == expected
