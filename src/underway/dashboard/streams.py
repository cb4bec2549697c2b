"""Server-sent events for the pages: the API's streams, admitted by the session cookie.

A browser's EventSource cannot send a bearer token, so the dashboard serves the same event
streams as `/api/events` and `/api/jobs/{id}/events` under its own session check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..web.event_streams import all_jobs_stream, event_stream, job_stream
from .access import require_view
from .error_pages import guarded
from .pages import app_of
from .rendering import with_security_headers

router = APIRouter(include_in_schema=False)
READY = "event: ready\ndata: {}\n\n"


async def announced(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Send `ready` once the stream has its baseline, so the page re-reads what changed before."""
    first = True
    async for chunk in chunks:
        yield chunk
        if first:
            first = False
            yield READY


@router.get("/dashboard/events")
@guarded
async def all_events(request: Request) -> Response:
    require_view(request)
    stream = announced(all_jobs_stream(request, app_of(request), request.app.state.streams))
    return with_security_headers(event_stream(stream))


@router.get("/dashboard/jobs/{job_id}/events")
@guarded
async def job_events(request: Request, job_id: str) -> Response:
    require_view(request)
    app = app_of(request)
    job = await app.get_async(job_id)
    return with_security_headers(
        event_stream(job_stream(request, app, job, request.app.state.streams))
    )
