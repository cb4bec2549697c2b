"""Bulk actions over the job list's filter: a confirmation with the count of matching jobs, the
form post that starts the run in the background, and the page that follows its progress."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from ..app.bulk import BULK_ACTIONS, count_matching
from ..models import BulkAction
from ..web.bulk_runs import BulkRun, describe, runs_of
from ..web.urls import root_path
from .access import CSRF_FIELD, Denied, Viewer, require_manage, require_view
from .actions import Form, back_to
from .error_pages import guarded
from .job_list import COUNT_LIMIT, Filters, ListFilters, list_filters
from .pages import app_of
from .rendering import render

router = APIRouter(include_in_schema=False)
FIELD_LIMIT = 200
VERBS = {"retry": "Retry", "cancel": "Cancel", "delete": "Delete"}
WHAT_HAPPENS = {
    "retry": "Failed and cancelled jobs run again; jobs in other states are left as they are.",
    "cancel": "Waiting jobs are cancelled now and running ones are told to stop; finished jobs "
    "are left as they are.",
    "delete": "Jobs are removed with their results and logs (active ones are cancelled first). "
    "This cannot be undone.",
}


def action_of(value: str | None) -> BulkAction:
    for action in BULK_ACTIONS:
        if value == action:
            return action
    raise Denied(400, "Choose retry, cancel or delete for the matching jobs.")


def who_is(request: Request, viewer: Viewer) -> str:
    """The person as the log names them: a short hash of their session, and their address."""
    client = request.client.host if request.client else "unknown address"
    session = hashlib.sha256(viewer.session.id.encode()).hexdigest()[:8]
    kind = "local dashboard user" if viewer.open_mode else "dashboard session"
    return f"{kind} #{session} at {client}"


@router.get("/dashboard/bulk")
@guarded
async def confirm(
    request: Request, filters: ListFilters = Filters, action: str = Query("", max_length=20)
) -> Response:
    """The confirmation; the count of matching jobs comes in its own request, which may take
    longer on a large table."""
    viewer = require_view(request)
    chosen = action_for(viewer, action)
    root = root_path(request.scope)
    count_url = filters.url(f"{root}/dashboard/live/bulk/count")
    return render(
        request,
        viewer,
        "bulk_confirm.html",
        action=chosen,
        verb=VERBS[chosen],
        what_happens=WHAT_HAPPENS[chosen],
        filters=filters,
        filter_text=describe(filters.matching()),
        back_url=filters.url(f"{root}/dashboard/jobs"),
        count_url=f"{count_url}{'&' if '?' in count_url else '?'}action={chosen}",
    )


@router.get("/dashboard/live/bulk/count")
@guarded
async def confirm_count(
    request: Request, filters: ListFilters = Filters, action: str = Query("", max_length=20)
) -> Response:
    viewer = require_view(request)
    chosen = action_for(viewer, action)
    matched = await count_matching(app_of(request), filters.matching(), COUNT_LIMIT + 1)
    shown = f"{COUNT_LIMIT:,}+" if matched > COUNT_LIMIT else f"{matched:,}"
    return render(
        request,
        viewer,
        "_bulk_count.html",
        verb=VERBS[chosen],
        action=chosen,
        matched=matched,
        shown=shown,
    )


def action_for(viewer: Viewer, action: str) -> BulkAction:
    if not viewer.can_manage:
        raise Denied(403, "This needs a token with scope jobs:manage; yours may only view.")
    return action_of(action)


@router.post("/dashboard/bulk")
@guarded
async def start(request: Request) -> Response:
    form = await Form.read(request)
    viewer = await require_manage(request, form.get(CSRF_FIELD))
    action = action_of(form.get("action"))
    fields = {name: form.get(name) or "" for name in ("state", "name", "queue", "q")}
    if any(len(value) > FIELD_LIMIT for value in fields.values()):
        raise Denied(400, f"A filter may be at most {FIELD_LIMIT} characters long.")
    filters = list_filters(**fields, sort="created", before=None)
    app = app_of(request)
    run = runs_of(request.app.state).start(app, action, filters.matching(), who_is(request, viewer))
    return back_to(request, f"/dashboard/bulk/{run.id}")


def run_context(request: Request, run_id: str) -> dict[str, Any]:
    run: BulkRun | None = runs_of(request.app.state).get(run_id)
    if run is None:
        raise Denied(404, "There is no such bulk action on this server (it may have restarted).")
    handled = run.tally.done + run.tally.skipped
    query = run.query
    filters = ListFilters(
        state=query.states[0].value if query.states else "",
        name=query.name or "",
        queue=query.queue or "",
        q=query.search or "",
    )
    return {
        "run": run,
        "list_url": filters.url(f"{root_path(request.scope)}/dashboard/jobs"),
        "verb": VERBS[run.action],
        "handled": handled,
        "percent": 100 if run.finished else min(99, 100 * handled // max(1, run.matched or 0)),
    }


@router.get("/dashboard/bulk/{run_id}")
@guarded
async def progress(request: Request, run_id: str) -> Response:
    viewer = require_view(request)
    return render(request, viewer, "bulk_run.html", **run_context(request, run_id))


@router.get("/dashboard/live/bulk/{run_id}")
@guarded
async def progress_live(request: Request, run_id: str) -> Response:
    viewer = require_view(request)
    return render(request, viewer, "_bulk_run.html", **run_context(request, run_id))
