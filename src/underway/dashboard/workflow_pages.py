"""The Workflows pages: workflows and batches newest first, and one's members by stage, each
with the live fragment its page refreshes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from ..web.urls import root_path
from .access import require_view
from .error_pages import guarded
from .pages import MAX_PAGE, app_of
from .rendering import render
from .workflow_stages import EdgeCache, stages_of

PER_PAGE = 20

router = APIRouter(include_in_schema=False)
Page = Query(1, ge=1, le=MAX_PAGE)


def edge_cache(request: Request) -> EdgeCache:
    cache: EdgeCache | None = getattr(request.app.state, "dashboard_edges", None)
    if cache is None:
        cache = request.app.state.dashboard_edges = EdgeCache()
    return cache


def page_url(base: str, page: int) -> str:
    return f"{base}?page={page}" if page > 1 else base


async def workflows_context(request: Request, page: int) -> dict[str, Any]:
    root = root_path(request.scope)
    found = await app_of(request).workflows_async(PER_PAGE, (page - 1) * PER_PAGE)
    pages = max(1, -(-found.total // PER_PAGE))
    base = f"{root}/dashboard/workflows"
    return {
        "workflows": found.workflows,
        "total": found.total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PER_PAGE + 1 if found.workflows else 0,
        "last": (page - 1) * PER_PAGE + len(found.workflows),
        "prev_url": page_url(base, page - 1) if page > 1 else None,
        "next_url": page_url(base, page + 1) if page < pages else None,
        "live_url": page_url(f"{root}/dashboard/live/workflows", page),
    }


@router.get("/dashboard/workflows")
@guarded
async def workflow_list(request: Request, page: int = Page) -> Response:
    viewer = require_view(request)
    context = await workflows_context(request, page)
    return render(request, viewer, "workflows.html", **context)


@router.get("/dashboard/live/workflows")
@guarded
async def workflow_list_live(request: Request, page: int = Page) -> Response:
    viewer = require_view(request)
    context = await workflows_context(request, page)
    return render(request, viewer, "_workflows.html", **context)


async def workflow_context(request: Request, workflow_id: str) -> dict[str, Any]:
    app = app_of(request)
    workflow, jobs = await asyncio.gather(
        app.workflow_status_async(workflow_id), app.workflow_jobs_async(workflow_id)
    )
    edges = await edge_cache(request).get(app, workflow_id, jobs)
    return {
        "workflow": workflow,
        "stages": stages_of(jobs, edges, workflow.kind),
        "can_retry": bool(workflow.counts.get("failed") or workflow.counts.get("cancelled")),
    }


@router.get("/dashboard/workflows/{workflow_id}")
@guarded
async def workflow_detail(request: Request, workflow_id: str) -> Response:
    viewer = require_view(request)
    context = await workflow_context(request, workflow_id)
    return render(request, viewer, "workflow.html", **context)


@router.get("/dashboard/live/workflows/{workflow_id}")
@guarded
async def workflow_detail_live(request: Request, workflow_id: str) -> Response:
    viewer = require_view(request)
    context = await workflow_context(request, workflow_id)
    return render(request, viewer, "_workflow.html", **context)
