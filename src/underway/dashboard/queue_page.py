"""The Queues page: each queue's jobs, limits, pause and workers, and its live fragment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..app import App
from ..models import QueueInfo
from ..rate_limits import stored_rate_limit
from .access import require_view
from .error_pages import guarded
from .pages import app_of
from .rendering import render

router = APIRouter(include_in_schema=False)


def rate_in_words(info: QueueInfo) -> str | None:
    rate = stored_rate_limit(info.rate_limit, info.rate_window_s, info.rate_fixed)
    return None if rate is None else str(rate)


async def queues_context(app: App) -> dict[str, Any]:
    items = await app.queues_info_async()
    return {"items": items, "rates": {q.name: rate_in_words(q) for q in items}}


@router.get("/dashboard/queues")
@guarded
async def queues(request: Request) -> Response:
    viewer = require_view(request)
    context = await queues_context(app_of(request))
    return render(request, viewer, "queues.html", **context)


@router.get("/dashboard/live/queues")
@guarded
async def queues_live(request: Request) -> Response:
    viewer = require_view(request)
    context = await queues_context(app_of(request))
    return render(request, viewer, "_queues.html", **context)
