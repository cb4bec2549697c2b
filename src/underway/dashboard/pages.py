"""The dashboard's pages (GET only, no side effects) and the live fragments they refresh."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..app import App
from ..errors import WorkflowNotFound
from ..models import ACTIVE_STATES, Job, JobFilter, JobState, Recurring
from ..recurring import describe_cron
from ..web.urls import root_path
from ..workflow_models import Workflow
from .access import require_view
from .error_pages import guarded
from .history_pages import Window, overview_history
from .rendering import render
from .waiting import why_waiting

MAX_PAGE = 100_000
MAX_RUNNING_SHOWN = 200

router = APIRouter(include_in_schema=False)


def app_of(request: Request) -> App:
    app: App = request.app.state.underway
    return app


@router.get("/")
async def root(request: Request) -> Response:
    return RedirectResponse(f"{root_path(request.scope)}/dashboard", status_code=307)


# -- overview ----------------------------------------------------------------------------------


async def overview_context(request: Request, window: str = "1h") -> dict[str, Any]:
    app = app_of(request)
    stats, recurring, workers, history = await asyncio.gather(
        app.stats_async(),
        app.list_recurring_async(),
        app.workers_async(),
        overview_history(request, window),
    )
    running_now = JobFilter(states=(JobState.RUNNING,), limit=MAX_RUNNING_SHOWN)
    running = {job.id: job for job in (await app.list_page_async(running_now)).jobs}
    counts = {state.value: stats.counts.get(state.value, 0) for state in JobState}
    return {
        "counts": counts,
        "active": sum(counts[s.value] for s in ACTIVE_STATES if s is not JobState.SCHEDULED),
        "stats": stats,
        "recurring_total": len(recurring),
        "recurring_enabled": sum(1 for r in recurring if r.enabled),
        "workers": workers,
        "running": running,
        **history,
    }


@router.get("/dashboard")
@guarded
async def overview(request: Request, window: Window = Query("1h")) -> Response:
    viewer = require_view(request)
    context = await overview_context(request, window)
    return render(request, viewer, "overview.html", **context)


@router.get("/dashboard/live/overview")
@guarded
async def overview_live(request: Request, window: Window = Query("1h")) -> Response:
    viewer = require_view(request)
    context = await overview_context(request, window)
    return render(request, viewer, "_overview.html", **context)


# -- job detail --------------------------------------------------------------------------------


async def job_context(app: App, job_id: str) -> dict[str, Any]:
    job = await app.get_async(job_id)
    return {
        "job": job,
        "can_retry": job.state in (JobState.FAILED, JobState.CANCELLED),
        "why_waiting": await why_waiting(app, job),
        "workflow": await workflow_of(app, job),
    }


async def workflow_of(app: App, job: Job) -> Workflow | None:
    """The workflow or batch the job belongs to, if it has one that is still stored."""
    if job.workflow_id is None:
        return None
    try:
        return await app.workflow_status_async(job.workflow_id)
    except WorkflowNotFound:
        return None


@router.get("/dashboard/jobs/{job_id}")
@guarded
async def job_detail(request: Request, job_id: str) -> Response:
    viewer = require_view(request)
    app = app_of(request)
    context = await job_context(app, job_id)
    logs = await app.logs_async(job_id)
    return render(request, viewer, "job.html", logs=logs, **context)


@router.get("/dashboard/live/jobs/{job_id}")
@guarded
async def job_detail_live(request: Request, job_id: str) -> Response:
    viewer = require_view(request)
    context = await job_context(app_of(request), job_id)
    return render(request, viewer, "_job.html", **context)


# -- recurring ---------------------------------------------------------------------------------


def cron_in_words(recurring: Recurring) -> str:
    return describe_cron(recurring.cron, recurring.timezone)


async def recurring_context(app: App) -> dict[str, Any]:
    items = await app.list_recurring_async()
    return {"items": items, "in_words": {r.id: cron_in_words(r) for r in items}}


@router.get("/dashboard/recurring")
@guarded
async def recurring(request: Request) -> Response:
    viewer = require_view(request)
    context = await recurring_context(app_of(request))
    return render(request, viewer, "recurring.html", **context)


@router.get("/dashboard/live/recurring")
@guarded
async def recurring_live(request: Request) -> Response:
    viewer = require_view(request)
    context = await recurring_context(app_of(request))
    return render(request, viewer, "_recurring.html", **context)
