"""Hostile text in args, logs, progress, errors and names renders as text: no dialog, strict CSP."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from underway import App

from .support import XSS, hostile_pages, wait_finished


def test_xss_payloads_render_as_text_on_every_page(page: Page, app: App) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    job = app.enqueue("hostile", {"payload": XSS, "nested": {XSS: [XSS, "</pre><script>alert(2)"]}})
    wait_finished(app, job.id)
    app.add_recurring(XSS, "0 3 * * *", "add", {"a": 1})
    for url in hostile_pages(job.id):
        response = page.goto(url)
        assert response is not None
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp

    page.goto(f"/dashboard/jobs/{job.id}")
    expect(page.locator("[data-error]")).to_contain_text(XSS)
    expect(page.locator("#logs .log-msg")).to_have_text([XSS])
    expect(page.locator(".progress-message")).to_have_text(XSS)
    expect(page.locator("[data-args]")).to_contain_text("</pre><script>alert(2)")
    page.goto("/dashboard/recurring")
    expect(page.locator("tr[data-recurring] strong")).to_have_text(XSS)
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_live_log_lines_with_markup_are_appended_as_text(page: Page, app: App) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    job = app.enqueue("crunch", {"steps": 2000, "pause": 0.02, "label": XSS})
    page.goto(f"/dashboard/jobs/{job.id}")
    shown = page.locator("#logs li").count()

    page.wait_for_function("n => document.querySelectorAll('#logs li').length > n + 3", arg=shown)

    expect(page.locator("#logs .log-msg").last).to_contain_text(XSS)
    assert page.locator("#logs img, #logs script").count() == 0
    assert dialogs == []
    app.cancel(job.id)
