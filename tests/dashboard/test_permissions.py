"""Sign-in with API tokens, view-only users, CSRF and cross-site posts, no side effects on GET."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from underway import App
from underway.api import create_api

from ..api.support import LiveServer
from .conftest import FAST_STREAMS, sign_in
from .support import MANAGE_TOKEN, TOKENS, VIEW_TOKEN, wait_finished


def csrf_of(page: Page) -> str:
    return str(page.locator("input[name=csrf]").first.input_value())


def test_pages_need_a_sign_in(anonymous: Page) -> None:
    anonymous.goto("/dashboard/jobs?state=failed")

    expect(anonymous).to_have_url(re.compile(r"/dashboard/login\?next="))
    anonymous.get_by_label("API token").fill("not-a-token")
    anonymous.get_by_role("button", name="Sign in").click()
    expect(anonymous.get_by_role("alert")).to_have_text("That token is not valid.")
    assert anonymous.request.get("/dashboard/events").status == 401


def test_session_cookie_is_httponly_and_samesite_strict(page: Page) -> None:
    cookie = next(c for c in page.context.cookies() if c["name"] == "underway_session")

    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/dashboard"
    assert page.evaluate("document.cookie") == ""


def test_sign_in_returns_to_the_page_asked_for_and_sign_out_ends_the_session(
    anonymous: Page,
) -> None:
    anonymous.goto("/dashboard/recurring")
    anonymous.get_by_label("API token").fill(MANAGE_TOKEN)
    anonymous.get_by_role("button", name="Sign in").click()
    expect(anonymous).to_have_url(re.compile(r"/dashboard/recurring$"))

    anonymous.get_by_role("button", name="Sign out").click()
    expect(anonymous).to_have_url(re.compile(r"/dashboard/login$"))
    anonymous.goto("/dashboard")
    expect(anonymous).to_have_url(re.compile(r"/dashboard/login"))


def test_view_token_sees_no_action_buttons_and_its_posts_are_refused(
    anonymous: Page, app: App
) -> None:
    failed = app.enqueue("flaky", {"key": "v"})
    wait_finished(app, failed.id)
    app.add_recurring("nightly", "0 3 * * *", "add", {"a": 1})
    sign_in(anonymous, VIEW_TOKEN)
    page = anonymous

    expect(page.locator(".pill-view")).to_have_text("view only")
    for url in ("/dashboard/jobs", f"/dashboard/jobs/{failed.id}", "/dashboard/recurring"):
        page.goto(url)
        expect(page.locator("main form[method=post]")).to_have_count(0)
        expect(
            page.get_by_role("button", name=re.compile("Cancel|Retry|Delete|Run now"))
        ).to_have_count(0)
        expect(page.locator("input[name=ids]")).to_have_count(0)

    forged = page.request.post(f"/dashboard/jobs/{failed.id}/retry", form={"x": "1"})
    assert forged.status == 403
    with_csrf = page.request.post(
        f"/dashboard/jobs/{failed.id}/retry", form={"csrf": csrf_of(page)}
    )
    assert with_csrf.status == 403
    assert "jobs:manage" in with_csrf.text()
    assert app.get(failed.id).state.value == "failed"


def test_forged_posts_without_the_csrf_token_are_refused(page: Page, app: App) -> None:
    job = app.enqueue("crunch", {"steps": 2000, "pause": 0.02})
    page.goto(f"/dashboard/jobs/{job.id}")
    token = csrf_of(page)

    for form in ({}, {"csrf": ""}, {"csrf": token[:-1] + "x"}):
        assert page.request.post(f"/dashboard/jobs/{job.id}/cancel", form=form).status == 403
    cross_site = page.request.post(
        f"/dashboard/jobs/{job.id}/cancel",
        form={"csrf": token},
        headers={"Origin": "http://evil.example"},
    )
    assert cross_site.status == 403
    assert app.get(job.id).state.value in ("pending", "running")

    get = page.request.get(f"/dashboard/jobs/{job.id}/cancel", max_redirects=0)
    assert get.status == 405
    assert app.get(job.id).state.value in ("pending", "running")

    allowed = page.request.post(f"/dashboard/jobs/{job.id}/cancel", form={"csrf": token})
    assert allowed.ok
    wait_finished(app, job.id)
    assert app.get(job.id).state.value == "cancelled"


def test_a_form_origin_is_checked_against_the_allowed_hosts_not_the_host_header(
    browser: Browser, app: App
) -> None:
    """Behind a proxy that passes its own Host, the browser's Origin is an allowed name."""
    api = create_api(app, tokens=TOKENS, allowed_hosts=["jobs.example.com"], streams=FAST_STREAMS)
    server = LiveServer(api).start()
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        sign_in(page, MANAGE_TOKEN)
        job = app.enqueue("crunch", {"steps": 2000, "pause": 0.02})
        page.goto(f"/dashboard/jobs/{job.id}")
        cancel = f"/dashboard/jobs/{job.id}/cancel"
        form = {"csrf": csrf_of(page)}

        for origin in ("http://evil.example", "http://jobs.example.com.evil.example", "null"):
            refused = page.request.post(cancel, form=form, headers={"Origin": origin})
            assert refused.status == 403, origin
        assert app.get(job.id).state.value in ("pending", "running")
        proxied = page.request.post(
            cancel, form=form, headers={"Origin": "https://jobs.example.com"}
        )
        assert proxied.ok, proxied.text()
        wait_finished(app, job.id)
        assert app.get(job.id).state.value == "cancelled"
    finally:
        context.close()
        server.stop()
