"""Routes of queues: list and read them, pause and resume one."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pydantic
from fastapi import APIRouter
from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..app import App
from ..models import JobState, QueueInfo
from ..rate_limits import stored_rate_limit
from . import openapi
from .auth import can_manage, can_view
from .errors import ApiError, field_errors
from .schemas import Body
from .submit import read_json_object

NOT_FOUND: openapi.Responses = {
    404: openapi.error("No queue of this name: no job declares it, none is stored in it.")
}
#: Free text without control characters (PostgreSQL stores no NUL).
TEXT = r"^[^\x00-\x1f\x7f]*$"


class PauseBody(Body):
    """What `POST /api/queues/{name}/pause` may take."""

    model_config = ConfigDict(extra="forbid", alias_generator=None)

    by: str | None = Field(
        None, max_length=200, pattern=TEXT, description="Who pauses it, shown with the pause."
    )


class RateLimitBody(Body):
    limit: int = Field(description="At most this many of the queue's jobs start per window.")
    per_seconds: float
    window: Literal["sliding", "fixed"]
    text: str = Field(description='The limit in words, e.g. "10/second".')


class QueueBody(Body):
    name: str
    paused: bool = Field(description="Workers claim none of its jobs; running ones finish.")
    paused_at: datetime | None
    paused_by: str | None
    concurrency: int | None = Field(description="At most this many of its jobs run at once.")
    rate_limit: RateLimitBody | None
    counts: dict[str, int] = Field(description="Its jobs per state, every state listed.")
    oldest_waiting_at: datetime | None = Field(
        description="When the longest-waiting ready job (pending, or scheduled and due) became due."
    )
    started_last_minute: int = Field(description="Its jobs started in the last minute.")
    workers: list[str] = Field(description="Ids of the live workers serving it.")


class QueueList(Body):
    items: list[QueueBody]


router = APIRouter(prefix="/api/queues", tags=["queues"])


def _app(request: Request) -> App:
    app: App = request.app.state.underway
    return app


def queue_body(info: QueueInfo) -> QueueBody:
    rate = stored_rate_limit(info.rate_limit, info.rate_window_s, info.rate_fixed)
    return QueueBody(
        name=info.name,
        paused=info.paused,
        paused_at=info.paused_at,
        paused_by=info.paused_by,
        concurrency=info.concurrency,
        rate_limit=None
        if rate is None
        else RateLimitBody(
            limit=rate.limit, per_seconds=rate.per, window=rate.window, text=str(rate)
        ),
        counts={state.value: info.counts.get(state.value, 0) for state in JobState},
        oldest_waiting_at=info.oldest_waiting_at,
        started_last_minute=info.started_last_minute,
        workers=list(info.workers),
    )


@router.get(
    "",
    operation_id="list_queues",
    dependencies=[can_view],
    response_model=QueueList,
    responses=openapi.responses(),
    summary="Every queue with its limits, pause, jobs and workers",
)
async def list_queues(request: Request) -> JSONResponse:
    found = await _app(request).queues_info_async()
    return JSONResponse(QueueList(items=[queue_body(info) for info in found]).wire())


@router.get(
    "/{name}",
    operation_id="get_queue",
    dependencies=[can_view],
    response_model=QueueBody,
    responses=openapi.responses(NOT_FOUND),
    summary="One queue",
)
async def get_queue(request: Request, name: str) -> JSONResponse:
    found = await _app(request).queue_info_async(name)
    return JSONResponse(queue_body(found).wire())


@router.post(
    "/{name}/pause",
    operation_id="pause_queue",
    dependencies=[can_manage],
    response_model=QueueBody,
    responses=openapi.responses(
        NOT_FOUND,
        {
            400: openapi.error("The body is not valid JSON."),
            415: openapi.error("The body is not JSON."),
        },
    ),
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": PauseBody.model_json_schema()}},
        }
    },
    summary="Stop workers claiming the queue's jobs (a queue not deployed yet may be paused)",
)
async def pause_queue(request: Request, name: str) -> JSONResponse:
    try:
        body = PauseBody.model_validate(await read_json_object(request), strict=True)
    except pydantic.ValidationError as exc:
        details = field_errors(exc.errors(include_url=False))
        raise ApiError(422, "InvalidRequest", "invalid pause request", details=details) from None
    paused = await _app(request).pause_queue_async(name, body.by)
    return JSONResponse(queue_body(paused).wire())


@router.post(
    "/{name}/resume",
    operation_id="resume_queue",
    dependencies=[can_manage],
    response_model=QueueBody,
    responses=openapi.responses(NOT_FOUND),
    summary="Let workers claim the queue's jobs again",
)
async def resume_queue(request: Request, name: str) -> JSONResponse:
    resumed = await _app(request).resume_queue_async(name)
    return JSONResponse(queue_body(resumed).wire())
