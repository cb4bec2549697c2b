"""The job page while reading it: logs that follow the newest line until the reader scrolls up,
tracebacks with underway's frames folded, and a finished job's dot that says "finished"."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from underway import App

from .support import wait_finished

AT_BOTTOM = "l => l.scrollHeight - l.scrollTop - l.clientHeight <= 8"
#: A line that arrives between the reader's scroll and the browser's scroll event must not undo
#: the scroll: these make one arrive there every time.
A_LINE_ARRIVES = "l.appendChild(l.lastElementChild.cloneNode(true));"
SCROLL_UP_AS_A_LINE_ARRIVES = "l => { l.scrollTop = 0; " + A_LINE_ARRIVES + " }"
SCROLL_DOWN_AS_A_LINE_ARRIVES = "l => { l.scrollTop = l.scrollHeight; " + A_LINE_ARRIVES + " }"


def wait_for_more_lines(page: Page, than: int) -> int:
    page.wait_for_function("n => document.querySelectorAll('#logs li').length > n", arg=than + 5)
    return int(page.locator("#logs li").count())


def test_logs_follow_the_newest_line_unless_the_reader_scrolls_up(page: Page, app: App) -> None:
    job = app.enqueue("crunch", {"steps": 3000, "pause": 0.01})
    page.goto(f"/dashboard/jobs/{job.id}")
    logs = page.locator("#logs")
    shown = wait_for_more_lines(page, 40)
    assert logs.evaluate(AT_BOTTOM)

    logs.evaluate(SCROLL_UP_AS_A_LINE_ARRIVES)
    expect(logs).to_have_attribute("data-following", "no")
    expect(page.get_by_role("button", name="↓ Follow newest")).to_be_visible()
    shown = wait_for_more_lines(page, shown)
    assert logs.evaluate("l => l.scrollTop") == 0

    logs.evaluate(SCROLL_DOWN_AS_A_LINE_ARRIVES)
    expect(logs).to_have_attribute("data-following", "yes")
    shown = wait_for_more_lines(page, shown)
    assert logs.evaluate(AT_BOTTOM)

    logs.evaluate("l => { l.scrollTop = 0; }")
    expect(logs).to_have_attribute("data-following", "no")
    page.get_by_role("button", name="↓ Follow newest").click()
    expect(page.get_by_role("button", name="↓ Follow newest")).to_be_hidden()
    wait_for_more_lines(page, shown)
    assert logs.evaluate(AT_BOTTOM)

    dot = page.locator("[data-live-status]")
    expect(dot).to_have_class("live-dot on")
    app.cancel(job.id)
    expect(page.locator(".job-head [data-state-badge]")).to_have_text("cancelled")
    expect(dot).to_have_text("finished")
    expect(dot).to_have_class("live-dot finished")


def test_a_traceback_shows_the_users_frames_and_folds_underways(page: Page, app: App) -> None:
    job = app.enqueue("flaky", {"key": "db-7"})
    wait_finished(app, job.id)
    page.goto(f"/dashboard/jobs/{job.id}")

    traceback = page.locator("[data-traceback]")
    expect(traceback.locator("[data-user-frames]")).to_contain_text(
        re.compile(r'File ".*support\.py", line \d+, in flaky')
    )
    folded = traceback.locator("[data-frames-inside]")
    expect(folded).to_have_count(1)
    expect(folded.locator("summary")).to_have_text(re.compile(r"^\d+ frames? inside underway"))
    inside = folded.locator(".frame-inside")
    expect(inside).to_contain_text(re.compile(r"underway[/\\]worker[/\\]execution\.py"))
    expect(inside).to_be_hidden()
    expect(traceback).to_contain_text("RuntimeError: backend for db-7 is down")

    folded.locator("summary").click()
    expect(inside).to_be_visible()
    dot = page.locator("[data-live-status]")
    expect(dot).to_have_text("finished")
    expect(dot).to_have_attribute("title", re.compile("finished"))
