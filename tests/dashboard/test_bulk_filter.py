"""Bulk actions over the list's filter: every matching job on every page, confirmed with the
count, run in the background with its progress shown, logged with who asked."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from underway import App

from .conftest import sign_in
from .support import VIEW_TOKEN, XSS


def test_cancel_all_matching_confirms_the_count_and_shows_the_run_finish(
    page: Page, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    later = [app.enqueue("add", {"a": n}, delay=3600).id for n in range(25)]
    other = app.enqueue("flaky", {"key": "k"}, delay=3600).id

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"/dashboard/bulk?action=delete&q={quote(XSS)}")
    expect(page.locator("[data-bulk-filter]")).to_contain_text(XSS)
    expect(page.locator("[data-bulk-matched]")).to_have_text("0")
    expect(page.get_by_role("button", name="Delete 0 jobs")).to_be_disabled()
    assert page.request.get("/dashboard/bulk?action=explode").status == 400
    assert page.request.get("/dashboard/bulk?action=delete&state=faild").status == 400
    assert page.request.get("/dashboard/jobs?state=faild").status == 400
    page.goto("/dashboard/jobs?state=scheduled&name=add")
    expect(page.locator("tr[data-job-row]")).to_have_count(20)
    page.get_by_role("link", name="Cancel all…").click()

    expect(page).to_have_url(re.compile(r"/dashboard/bulk\?.*action=cancel"))
    expect(page.locator("[data-bulk-matched]")).to_have_text("25")
    expect(page.get_by_role("button", name="Cancel 25 jobs")).to_be_enabled()
    expect(page.locator("[data-bulk-filter]")).to_have_text("state=scheduled name='add'")
    with caplog.at_level(logging.INFO, logger="underway.bulk"):
        page.get_by_role("button", name="Cancel 25 jobs").click()
        expect(page).to_have_url(re.compile(r"/dashboard/bulk/[0-9a-f]+$"))
        expect(page.locator("[data-bulk-status]")).to_have_text(
            "Finished: 25 changed, 0 left as they were, of the 25 that matched."
        )

    page.locator("[data-bulk-list]").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs\?state=scheduled&name=add$"))
    expect(page.locator("tr[data-job-row]")).to_have_count(0)
    assert {app.get(job_id).state.value for job_id in later} == {"cancelled"}
    assert dialogs == []
    assert app.get(other).state.value == "scheduled"
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "started by dashboard session #" in logged
    assert ": 25 matching jobs" in logged
    assert "state=scheduled name='add', 25 changed, 0 left as they were" in logged


def test_a_view_only_session_gets_no_bulk_actions(page: Page, app: App) -> None:
    app.enqueue("add", {"a": 1}, delay=3600)
    page.context.clear_cookies()
    sign_in(page, VIEW_TOKEN)

    page.goto("/dashboard/jobs")
    expect(page.locator("tr[data-job-row]")).to_have_count(1)
    expect(page.locator("[data-bulk-all]")).to_have_count(0)
    assert page.request.get("/dashboard/bulk?action=cancel").status == 403
    assert page.request.get("/dashboard/live/bulk/count?action=cancel").status == 403
    form = {"action": "cancel", "state": "scheduled"}
    assert page.request.post("/dashboard/bulk", form=form).status == 403
    assert app.list(state="scheduled") != []
