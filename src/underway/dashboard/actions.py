"""Dashboard form posts: sign in and out, job, workflow, recurring and queue actions (manage
scope and CSRF)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..models import BulkAction
from ..web.urls import root_path
from .access import CSRF_FIELD, Denied, check_form, guard_of, require_manage, safe_next, viewer_of
from .error_pages import error_page, guarded
from .pages import app_of
from .rendering import render, with_security_headers
from .sessions import forget, remember, store_of

MAX_BULK = 200
FORM_TYPE = "application/x-www-form-urlencoded"

router = APIRouter(include_in_schema=False)


class Form:
    """A url-encoded form body (the dashboard's forms send nothing else)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    @classmethod
    async def read(cls, request: Request) -> Form:
        if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
            return cls({})
        body = (await request.body()).decode("utf-8", "replace")
        return cls(parse_qs(body, keep_blank_values=True))

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return self.fields.get(name, [])


def back_to(request: Request, route: str) -> Response:
    """303 to a dashboard route, under the prefix the app is served at."""
    return redirect_to(root_path(request.scope) + route)


def redirect_to(url: str) -> Response:
    return with_security_headers(RedirectResponse(url, status_code=303))


# -- sign in and out ---------------------------------------------------------------------------


@router.get("/dashboard/login")
@guarded
async def login_form(request: Request) -> Response:
    viewer = viewer_of(request)
    next_url = safe_next(request.query_params.get("next"), root_path(request.scope))
    return render(request, viewer, "login.html", next_url=next_url, error=None)


@router.post("/dashboard/login")
@guarded
async def login(request: Request) -> Response:
    viewer = viewer_of(request)
    form = await Form.read(request)
    await check_form(request, viewer, form.get(CSRF_FIELD))
    next_url = safe_next(form.get("next"), root_path(request.scope))
    if viewer.open_mode:
        return redirect_to(next_url)
    scopes = guard_of(request).scopes_of(form.get("token") or "")
    if not scopes:
        return render(
            request, viewer, "login.html", 401, next_url=next_url, error="That token is not valid."
        )
    session = store_of(request).rotate(viewer.session, scopes)
    response = redirect_to(next_url)
    remember(request, response, session)
    return response


@router.post("/dashboard/logout")
@guarded
async def logout(request: Request) -> Response:
    viewer = viewer_of(request)
    form = await Form.read(request)
    await check_form(request, viewer, form.get(CSRF_FIELD))
    store_of(request).discard(viewer.session)
    response = back_to(request, "/dashboard/login")
    forget(request, response)
    return response


# -- job actions -------------------------------------------------------------------------------

JobAction = Callable[[str], Awaitable[Any]]
DONE = {"cancel": "Cancel requested", "retry": "Queued again", "delete": "Deleted"}


def _job_actions(request: Request) -> dict[str, JobAction]:
    app = app_of(request)
    return {"cancel": app.cancel_async, "retry": app.retry_async, "delete": app.delete_async}


@router.post("/dashboard/jobs/bulk")
@guarded
async def bulk(request: Request) -> Response:
    form = await Form.read(request)
    viewer = await require_manage(request, form.get(CSRF_FIELD))
    action: BulkAction = "retry" if form.get("action") == "retry" else "cancel"
    if form.get("action") not in ("retry", "cancel"):
        raise Denied(400, "Choose retry or cancel for the selected jobs.")
    ids = form.all("ids")[:MAX_BULK]
    done = len(await app_of(request).apply_to_many_async(action, ids))
    verb = "Retried" if action == "retry" else "Cancelled"
    skipped = f"; {len(ids) - done} could not be" if done < len(ids) else ""
    viewer.session.flash = f"{verb} {done} of {len(ids)} selected jobs{skipped}."
    return redirect_to(safe_next(form.get("back"), root_path(request.scope), "/dashboard/jobs"))


@router.post("/dashboard/jobs/{job_id}/{action}")
@guarded
async def job_action(request: Request, job_id: str, action: str) -> Response:
    form = await Form.read(request)
    viewer = await require_manage(request, form.get(CSRF_FIELD))
    run = _job_actions(request).get(action)
    if run is None:
        raise Denied(404, f"There is no job action {action!r}.")
    await run(job_id)
    viewer.session.flash = f"{DONE[action]}: job {job_id}."
    return back_to(
        request, "/dashboard/jobs" if action == "delete" else f"/dashboard/jobs/{job_id}"
    )


# -- workflow actions --------------------------------------------------------------------------

WORKFLOW_DONE = {
    "cancel": "Cancel requested",
    "retry": "Running again what failed or was cancelled",
}


@router.post("/dashboard/workflows/{workflow_id}/{action}")
@guarded
async def workflow_action(request: Request, workflow_id: str, action: str) -> Response:
    form = await Form.read(request)
    viewer = await require_manage(request, form.get(CSRF_FIELD))
    app = app_of(request)
    if action == "cancel":
        workflow = await app.cancel_workflow_async(workflow_id)
    elif action == "retry":
        workflow = await app.retry_workflow_async(workflow_id)
    else:
        raise Denied(404, f"There is no workflow action {action!r}.")
    viewer.session.flash = f"{WORKFLOW_DONE[action]}: {workflow.kind} {workflow_id}."
    return back_to(request, f"/dashboard/workflows/{workflow_id}")


# -- recurring actions -------------------------------------------------------------------------


@router.post("/dashboard/recurring/{recurring_id}/{action}")
@guarded
async def recurring_action(request: Request, recurring_id: str, action: str) -> Response:
    form = await Form.read(request)
    viewer = await require_manage(request, form.get(CSRF_FIELD))
    app = app_of(request)
    if action == "toggle":
        changed = await app.toggle_recurring_async(recurring_id)
        state = "enabled" if changed.enabled else "disabled"
        viewer.session.flash = f"{changed.name} is now {state}."
    elif action == "trigger":
        handle = await app.trigger_recurring_async(recurring_id)
        viewer.session.flash = f"Started a run now: job {handle.id}."
    elif action == "delete":
        await app.remove_recurring_async(recurring_id)
        viewer.session.flash = "Recurring job deleted."
    else:
        raise Denied(404, f"There is no recurring action {action!r}.")
    return back_to(request, "/dashboard/recurring")


# -- queue actions -----------------------------------------------------------------------------


@router.post("/dashboard/queues/{action}")
@guarded
async def queue_action(request: Request, action: str) -> Response:
    """Pause or resume the queue the form names (a field, not the path: any name fits)."""
    form = await Form.read(request)
    viewer = await require_manage(request, form.get(CSRF_FIELD))
    app, name = app_of(request), form.get("queue")
    if not name:
        raise Denied(400, "Name the queue to pause or resume.")
    if action == "pause":
        await app.pause_queue_async(name, by="dashboard")
        viewer.session.flash = f"Paused queue {name}: its waiting jobs stay until it is resumed."
    elif action == "resume":
        await app.resume_queue_async(name)
        viewer.session.flash = f"Resumed queue {name}."
    else:
        raise Denied(404, f"There is no queue action {action!r}.")
    return back_to(request, "/dashboard/queues")


# -- the same URLs on GET: say so instead of the API's generic 405 ------------------------------

#: Included after every other dashboard route, so that GET routes on these paths win.
post_only = APIRouter(include_in_schema=False)


@post_only.get("/dashboard/logout")
@post_only.get("/dashboard/jobs/{job_id}/{action}")
@post_only.get("/dashboard/workflows/{workflow_id}/{action}")
@post_only.get("/dashboard/recurring/{recurring_id}/{action}")
@post_only.get("/dashboard/queues/{action}")
async def use_post(request: Request) -> Response:
    response = error_page(request, 405, "Actions change things, so they are form posts only.")
    response.headers["Allow"] = "POST"
    return response
