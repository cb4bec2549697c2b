"""One `POST /api/jobs/{job name}` route per registered job: the asynchronous job pattern."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pydantic
from fastapi import FastAPI, Header, Query
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..app import App
from ..app.handle import JobHandle
from ..errors import JobNotFound, ValidationError, WaitTimeout
from ..models import Job, JobState
from . import bodies, openapi
from .auth import can_manage
from .errors import ApiError, field_errors
from .params import parse_timestamp, timestamp_query
from .schemas import JobStatus

MAX_DELAY_S = 10 * 365 * 24 * 3600.0
PRIORITY_RANGE = 1_000_000
PREFER_WAIT = re.compile(r"(?:^|[,;])\s*wait\s*=\s*\"?(\d{1,9})\"?\s*(?=$|[,;])", re.IGNORECASE)
JSON_MEDIA = re.compile(r"^application/([\w.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)

SUBMIT_RESPONSES = openapi.responses(
    {
        202: {
            "model": JobStatus,
            "description": "Accepted (or joined an active job); poll `Location`.",
            "headers": {
                "Location": openapi.LOCATION,
                "Operation-Location": openapi.OPERATION_LOCATION,
                "Retry-After": openapi.RETRY_AFTER,
            },
            "links": openapi.JOB_LINKS,
        },
        200: {"model": JobStatus, "description": "With `Prefer: wait`: failed or cancelled."},
        303: {
            "model": JobStatus,
            "description": "With `Prefer: wait`: completed; `Location` is the output.",
            "headers": {"Location": openapi.LOCATION},
        },
        400: openapi.error("Malformed JSON."),
        409: openapi.error(
            "A single-instance job is already active, or its queue_limit of runs wait; "
            "`Location` is the active (or first waiting) job's monitor.",
            Location=openapi.LOCATION,
        ),
        413: openapi.error("The body is over the size limit."),
        415: openapi.error("The body is not JSON."),
        422: openapi.error("Invalid arguments or options, with field errors."),
    }
)


def install_submit_routes(api: FastAPI, app: App, *, max_wait_s: float) -> None:
    """Add a concrete, typed POST route for every job in the app's registry."""
    queues = list(app.queues())
    for name, definition in app.registry.items():
        summary = (definition.fn.__doc__ or "").strip().splitlines()
        api.add_api_route(
            f"/api/jobs/{name}",
            _submit_endpoint(app, name, queues, max_wait_s),
            methods=["POST"],
            name=f"submit_{name}",
            operation_id=f"submit_{name}",
            summary=f"Submit a {name} job",
            description=summary[0] if summary else None,
            tags=["submit"],
            status_code=202,
            response_model=None,
            responses=SUBMIT_RESPONSES,
            dependencies=[can_manage],
            openapi_extra=openapi.request_body(app, name),
        )


def _submit_endpoint(
    app: App, name: str, queues: list[str], max_wait_s: float
) -> Callable[..., Awaitable[Response]]:
    async def submit(
        request: Request,
        delay: float | None = Query(
            None, ge=0, le=MAX_DELAY_S, description="Seconds to wait (or give `run_at`, not both)."
        ),
        run_at: str | None = timestamp_query("When to run (RFC 3339 date-time)."),
        priority: int | None = Query(None, ge=-PRIORITY_RANGE, le=PRIORITY_RANGE),
        queue: str | None = Query(None, json_schema_extra={"enum": queues}),
        idempotency_key: str | None = Header(
            None,
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Repeating a POST with the same key returns the same job.",
        ),
        prefer: str | None = Header(
            None, alias="Prefer", description="`wait=N`: answer once done, within N seconds."
        ),
    ) -> Response:
        if queue is not None and queue not in queues:
            raise _unknown_queue(queue, queues)
        arguments = strict_arguments(app, name, await read_json_object(request))
        when = parse_timestamp(run_at, "run_at")
        if when is not None and delay is not None:
            raise _two_times()
        key = None if idempotency_key is None else f"{name}:{idempotency_key}"
        handle = await app.enqueue_async(
            name,
            arguments,
            delay=delay,
            run_at=when,
            priority=priority,
            queue=queue,
            idempotency_key=key,
        )
        if handle.skipped:
            raise await _skipped(request, app, handle)
        wait = prefer_wait(prefer, max_wait_s)
        job = handle.job if wait is None else await _wait(app, handle.job, wait)
        return accepted(request, job, joined=handle.joined, waited=wait)

    return submit


async def read_json_object(
    request: Request, holding: str = "the job's arguments"
) -> dict[str, Any]:
    """The body as a JSON object (of what it is `holding`): 415 if not JSON, 400 if malformed,
    422 if not an object."""
    media = request.headers.get("content-type")
    if media is not None and not JSON_MEDIA.match(media):
        raise ApiError(415, "UnsupportedMediaType", f"send application/json, not {media}")
    raw = await request.body()
    if not raw.strip():
        return {}
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ApiError(
            422,
            "InvalidArguments",
            f"the body must be a JSON object of {holding}",
            details=field_errors([{"loc": (), "msg": "expected an object", "type": "dict_type"}]),
        )
    return data


def strict_arguments(app: App, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate arguments as JSON, strictly: no `false` for an int, no `"1"` for a number.

    The published schema promises JSON types; Python callers keep Pydantic's lax coercion.
    """
    try:
        model = app.definition(name).args_model.model_validate_json(json.dumps(data), strict=True)
    except pydantic.ValidationError as exc:
        raise ValidationError(name, [dict(e) for e in exc.errors(include_url=False)]) from None
    arguments: dict[str, Any] = model.model_dump(mode="json")
    return arguments


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, finite numbers, bounded nesting."""
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
        )
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeError as exc:
        raise ApiError(400, "MalformedJson", f"the body is not valid UTF-8: {exc}") from None
    except RecursionError:
        raise ApiError(400, "MalformedJson", "the JSON body is nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, "MalformedJson", f"the body is not valid JSON: {exc}") from None
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def prefer_wait(header: str | None, max_wait_s: float) -> float | None:
    """Seconds asked for by `Prefer: wait=N` (RFC 7240), capped; None when not asked."""
    if not header:
        return None
    found = PREFER_WAIT.search(header)
    return None if found is None else min(float(found.group(1)), max_wait_s)


async def _wait(app: App, job: Job, seconds: float) -> Job:
    if job.state.is_finished or seconds <= 0:
        return job
    try:
        return await app.wait_finished_async(job.id, seconds)
    except WaitTimeout:
        return await app.get_async(job.id)


def accepted(request: Request, job: Job, *, joined: bool, waited: float | None) -> Response:
    """202 with the Locations, or, after `Prefer: wait`, what the monitor says of a finished job."""
    body = bodies.job_status(request, job, joined=joined).wire()
    headers = {
        "Location": bodies.job_url(request, job.id),
        "Operation-Location": bodies.job_url(request, job.id, "/status"),
        "Vary": "Prefer",
    }
    if waited is not None:
        headers["Preference-Applied"] = f"wait={waited:g}"
    if waited is not None and job.state is JobState.COMPLETED:
        headers["Location"] = bodies.job_url(request, job.id, "/output")
        return JSONResponse(body, status_code=303, headers=headers)
    if waited is not None and job.state.is_finished:
        return JSONResponse(body, status_code=200, headers=headers)
    headers["Retry-After"] = str(bodies.retry_after(job))
    return JSONResponse(body, status_code=202, headers=headers)


async def _skipped(request: Request, app: App, handle: JobHandle[Any]) -> ApiError:
    active_id = handle.duplicate_of or handle.id
    try:
        active = bodies.job_status(request, await app.get_async(active_id))
    except JobNotFound:
        active = None
    return ApiError(
        409,
        "DuplicateActive",
        f"job {handle.name!r} was skipped: {handle.job.skip_reason or 'a duplicate is active'}",
        headers={"Location": bodies.job_url(request, active_id), "Vary": "Prefer"},
        job=active,
    )


def _two_times() -> ApiError:
    message = "give delay or run_at, not both"
    error = {"loc": ("query", "run_at"), "msg": message, "type": "value_error"}
    return ApiError(422, "InvalidRequest", message, details=field_errors([error]))


def _unknown_queue(queue: str, queues: list[str]) -> ApiError:
    message = f"unknown queue {queue!r}; use one of {', '.join(queues)}"
    error = {"loc": ("query", "queue"), "msg": message, "type": "enum"}
    return ApiError(422, "InvalidRequest", message, details=field_errors([error]))
