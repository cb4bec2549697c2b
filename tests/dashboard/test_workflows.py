"""Workflows and batches on the dashboard: the list, a workflow's members by stage with live
states, cancel and retry, a job's line to its workflow, permissions and CSRF."""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, Locator, Page, ViewportSize, expect

from underway import App, WorkflowHandle, chain, group

from .conftest import sign_in
from .support import ALLOWED, VIEW_TOKEN, XSS

PHONE: ViewportSize = {"width": 360, "height": 740}


def held_chain(app: App, key: str, name: str | None = "nightly report") -> WorkflowHandle:
    """held(key) then add: the second waits until the test allows the key."""
    return app.start(chain(app.step("held", {"key": key}), app.step("add", {"a": 1})), name=name)


def head_badge(page: Page) -> Locator:
    return page.locator("[data-workflow-head] .job-title [data-state-badge]")


def member_badge(page: Page, job_id: str) -> Locator:
    return page.locator(f'[data-member="{job_id}"] [data-state-badge]')


def test_the_list_shows_workflows_newest_first_in_pages_and_updates_live(
    page: Page, app: App
) -> None:
    for i in range(21):
        app.start(app.step("add", {"a": i}), name=f"wf-{i:02d}")
    newest = held_chain(app, "list", name="newest")

    page.goto("/dashboard")
    page.get_by_role("navigation").get_by_role("link", name="Workflows").click()
    expect(page).to_have_url(re.compile(r"/dashboard/workflows$"))
    rows = page.locator("tr[data-workflow-row]")
    expect(rows).to_have_count(20)
    first = page.locator(f'tr[data-workflow-row="{newest.id}"]')
    expect(rows.first).to_have_attribute("data-workflow-row", newest.id)
    expect(first.locator("a.job-link")).to_have_text("newest")
    expect(first.locator("[data-kind]")).to_have_text("workflow")
    expect(first.locator("[data-state-badge]").first).to_have_text("active")
    expect(first.locator('[data-count-state="waiting"]')).to_have_text("waiting 1")
    expect(first.locator(".progress-pct")).to_have_text("0/2")
    expect(page.locator(".pager")).to_contain_text("20 of 22")
    page.evaluate("window.notReloaded = true")

    ALLOWED.add("list")

    expect(first.locator("[data-state-badge]").first).to_have_text("completed")
    expect(first.locator('[data-count-state="completed"]')).to_have_text("completed 2")
    expect(first.locator(".progress-pct")).to_have_text("2/2")
    assert page.evaluate("window.notReloaded") is True

    page.locator(".pager a[rel=next]").click()
    expect(page).to_have_url(re.compile(r"/dashboard/workflows\?page=2$"))
    expect(rows).to_have_count(2)
    expect(rows.locator("a.job-link")).to_have_text(["wf-01", "wf-00"])


def test_members_are_listed_by_stage_and_their_states_change_live(page: Page, app: App) -> None:
    flow = chain(
        app.step("held", {"key": "stages"}),
        group(app.step("add", {"a": 1}), app.step("add", {"a": 2})),
        app.step("add", {"a": 3}),
    )
    handle = app.start(flow, name="fan out and in")
    held, left, right, last = (job.id for job in handle.jobs())

    page.goto(f"/dashboard/workflows/{handle.id}")
    expect(page.locator("h1")).to_have_text("fan out and in")
    expect(head_badge(page)).to_have_text("active")
    stages = page.locator("[data-stage]")
    expect(stages).to_have_count(3)
    expect(stages.nth(0).locator("[data-member]")).to_have_count(1)
    expect(stages.nth(1).locator("[data-member] a.job-link")).to_have_text(["add", "add"])
    expect(stages.nth(2).locator("[data-member]")).to_have_attribute("data-member", last)
    expect(member_badge(page, held)).to_have_text("running")
    for waiting in (left, right, last):
        expect(member_badge(page, waiting)).to_have_text("waiting")
    expect(page.locator(f'[data-member="{last}"] [data-waiting-on]')).to_have_text(
        "waits for 2 more"
    )
    # "waiting" has a colour of its own, like every other state.
    expect(member_badge(page, last)).to_have_css("background-color", "rgb(255, 244, 230)")
    expect(page.locator("[data-live-status]")).to_have_class("live-dot on")
    page.evaluate("window.notReloaded = true")

    ALLOWED.add("stages")

    for member in (held, left, right, last):
        expect(member_badge(page, member)).to_have_text("completed")
    expect(head_badge(page)).to_have_text("completed")
    expect(page.locator("[data-workflow-head] .progress-pct")).to_have_text("4/4")
    assert page.evaluate("window.notReloaded") is True

    page.locator(f'[data-member="{last}"] a.job-link').click()
    expect(page).to_have_url(re.compile(f"/dashboard/jobs/{last}$"))
    page.locator("[data-workflow-link] a").click()
    expect(page).to_have_url(re.compile(f"/dashboard/workflows/{handle.id}$"))


def test_a_waiting_jobs_page_says_how_many_it_waits_for_and_links_its_workflow(
    page: Page, app: App
) -> None:
    handle = held_chain(app, "job-page")
    held, waiting = (job.id for job in handle.jobs())

    page.goto(f"/dashboard/jobs/{waiting}")
    expect(page.locator(".job-head [data-state-badge]")).to_have_text("waiting")
    expect(page.locator("[data-waiting-on]")).to_have_text("Waits for 1 more job to end.")
    link = page.locator("[data-workflow-link]")
    expect(link).to_contain_text("Part of workflow nightly report")
    expect(link.locator("a")).to_have_attribute("href", f"/dashboard/workflows/{handle.id}")
    because = page.locator('[data-why-waiting] [data-kind="dependencies"]')
    expect(because).to_contain_text("waiting for 1 job it depends on")
    expect(because.locator("a")).to_have_attribute("href", f"/dashboard/jobs/{held}")

    ALLOWED.add("job-page")

    expect(page.locator(".job-head [data-state-badge]")).to_have_text("completed")
    expect(page.locator("[data-waiting-on]")).to_have_count(0)
    plain = app.enqueue("add", {"a": 1})
    page.goto(f"/dashboard/jobs/{plain.id}")
    expect(page.locator("[data-workflow-link]")).to_have_count(0)


def test_cancel_stops_the_workflow_and_retry_runs_it_again(page: Page, app: App) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    handle = held_chain(app, "cancel")
    held, after = (job.id for job in handle.jobs())
    page.goto(f"/dashboard/workflows/{handle.id}")
    expect(member_badge(page, held)).to_have_text("running")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)

    page.get_by_role("button", name="Cancel").click()

    expect(page.locator(".flash")).to_have_text(f"Cancel requested: workflow {handle.id}.")
    expect(head_badge(page)).to_have_text("cancelled")
    expect(member_badge(page, held)).to_have_text("cancelled")
    expect(member_badge(page, after)).to_have_text("cancelled")
    assert handle.status().state == "cancelled"
    page.reload()
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    ALLOWED.add("cancel")
    page.get_by_role("button", name="Retry").click()

    expect(page.locator(".flash")).to_contain_text(f"workflow {handle.id}.")
    expect(head_badge(page)).to_have_text("completed")
    expect(member_badge(page, after)).to_have_text("completed")
    assert handle.status().state == "completed"


def test_a_batch_marks_its_callbacks_and_can_be_retried_after_a_failure(
    page: Page, app: App
) -> None:
    handle = app.batch(
        [app.step("add", {"a": 1}), app.step("flaky", {"key": "batch"})],
        on_complete=app.step("add", {"a": 7}),
        on_success=app.step("add", {"a": 8}),
        on_failure=app.step("add", {"a": 9}),
        name="import",
    )
    assert handle.wait(timeout=15).state == "failed"

    page.goto("/dashboard/workflows")
    row = page.locator(f'tr[data-workflow-row="{handle.id}"]')
    expect(row.locator("[data-kind]")).to_have_text("batch")
    expect(row.locator("[data-state-badge]").first).to_have_text("failed")
    row.get_by_role("link", name="import").click()

    expect(page.locator("[data-kind]")).to_have_text("batch")
    [members, callbacks] = page.locator("[data-stage]").all()
    expect(members.locator("[data-callback]")).to_have_count(0)
    expect(callbacks.locator("[data-callback]")).to_have_text(
        ["on_complete callback", "on_success callback", "on_failure callback"]
    )
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    ALLOWED.add("batch")
    page.get_by_role("button", name="Retry").click()

    expect(page.locator(".flash")).to_have_text(
        f"Running again what failed or was cancelled: batch {handle.id}."
    )
    expect(members.locator("[data-state-badge]")).to_have_text(["completed", "completed"])


def test_a_view_token_sees_no_buttons_and_workflow_posts_need_manage_and_csrf(
    anonymous: Page, app: App
) -> None:
    handle = held_chain(app, "perm")
    cancel = f"/dashboard/workflows/{handle.id}/cancel"
    anonymous.goto(f"/dashboard/workflows/{handle.id}")
    expect(anonymous).to_have_url(re.compile(r"/dashboard/login\?next="))
    assert anonymous.request.get(f"/dashboard/live/workflows/{handle.id}").status == 401

    sign_in(anonymous, VIEW_TOKEN)
    for url in ("/dashboard/workflows", f"/dashboard/workflows/{handle.id}"):
        anonymous.goto(url)
        expect(anonymous.locator("main form[method=post]")).to_have_count(0)
    csrf = anonymous.locator("input[name=csrf]").first.input_value()
    refused = anonymous.request.post(cancel, form={"csrf": csrf})
    assert (refused.status, "jobs:manage" in refused.text()) == (403, True)
    assert handle.status().state == "active"


def test_workflow_posts_without_a_genuine_form_are_refused(page: Page, app: App) -> None:
    handle = held_chain(app, "csrf")
    cancel = f"/dashboard/workflows/{handle.id}/cancel"
    page.goto(f"/dashboard/workflows/{handle.id}")
    token = page.locator("input[name=csrf]").first.input_value()

    forged: list[dict[str, str | float | bool]] = [{}, {"csrf": ""}, {"csrf": token[:-1] + "x"}]
    for form in forged:
        assert page.request.post(cancel, form=form).status == 403
    cross_site = page.request.post(
        cancel, form={"csrf": token}, headers={"Origin": "http://evil.example"}
    )
    assert cross_site.status == 403
    assert page.request.get(cancel, max_redirects=0).status == 405
    unknown = f"/dashboard/workflows/{handle.id}/delete"
    assert page.request.post(unknown, form={"csrf": token}).status == 404
    assert handle.status().state == "active"

    missing = page.goto("/dashboard/workflows/no-such-workflow")
    assert missing is not None
    assert missing.status == 404
    expect(page.locator("main")).to_contain_text("workflow no-such-workflow not found")
    allowed = page.request.post(cancel, form={"csrf": token})
    assert allowed.ok
    assert handle.wait(timeout=10).state == "cancelled"


def test_hostile_workflow_names_render_as_text_and_the_pages_fit_a_phone(
    page: Page, app: App
) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    handle = app.start(app.step("add", {"a": 1}), name=XSS)
    member = handle.jobs()[0].id
    page.set_viewport_size(PHONE)

    for url in (
        "/dashboard/workflows",
        f"/dashboard/workflows/{handle.id}",
        f"/dashboard/jobs/{member}",
    ):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} is {overflow}px wider than a phone"
    expect(page.locator("[data-workflow-link] a")).to_have_text(XSS)
    page.goto(f"/dashboard/workflows/{handle.id}")
    expect(page.locator("h1")).to_have_text(XSS)
    assert page.locator("img[src=x], main script").count() == 0
    assert dialogs == []
