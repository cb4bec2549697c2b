"""The event stream routes: `/api/events` and `/api/jobs/{id}/events`, for token holders."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import StreamingResponse

from ..app import App
from ..web.event_streams import all_jobs_stream, event_stream, job_stream
from . import openapi
from .auth import can_view

#: One server-sent event as EventSource reads it; `data` is a JSON object.
EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["state", "progress", "log", "deleted", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
STREAM: openapi.Responses = {
    200: {
        "description": "A text/event-stream of `state`, `progress` and `log` events.",
        "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
    }
}


router = APIRouter(tags=["events"])


@router.get(
    "/api/jobs/{job_id}/events",
    operation_id="get_job_events",
    dependencies=[can_view],
    response_class=StreamingResponse,
    responses=openapi.responses(openapi.NOT_FOUND, STREAM),
    summary="Server-sent events of one job, until it finishes",
)
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    app: App = request.app.state.underway
    job = await app.get_async(job_id)
    return event_stream(job_stream(request, app, job, request.app.state.streams))


@router.get(
    "/api/events",
    operation_id="get_events",
    dependencies=[can_view],
    response_class=StreamingResponse,
    responses=openapi.responses(STREAM),
    summary="Server-sent events of all jobs",
)
async def events(request: Request) -> StreamingResponse:
    app: App = request.app.state.underway
    return event_stream(all_jobs_stream(request, app, request.app.state.streams))
