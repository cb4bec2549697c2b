"""Routes of existing jobs: the monitor, the status view, the output, and management."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..app import App
from ..models import JobFilter, JobState
from . import bodies, openapi
from .auth import can_manage, can_view
from .errors import ApiError
from .params import parse_timestamp, timestamp_query
from .schemas import Blocker, JobBlockers, JobList, JobLogs, JobStatus, LogLine, Operation

MAX_PAGE = 100_000
MAX_PER_PAGE = 200
MAX_LOG_SEQ = 2**31

JobResponses = openapi.responses(openapi.NOT_FOUND)


def _app(request: Request) -> App:
    app: App = request.app.state.underway
    return app


def _not_a_job_name(request: Request, job_id: str) -> None:
    """`/api/jobs/{name}` of a registered job is its submit route, which only takes POST."""
    if job_id in _app(request).registry:
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"{request.method} is not allowed on {request.url.path}; use POST to submit a job",
            headers={"Allow": "POST"},
        )


router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get(
    "",
    operation_id="list_jobs",
    dependencies=[can_view],
    response_model=JobList,
    responses=openapi.responses(),
    summary="List jobs, newest first",
)
async def list_jobs(
    request: Request,
    state: list[JobState] | None = Query(None, description="Repeat to match several states."),
    name: str | None = Query(None, max_length=200),
    queue: str | None = Query(None, max_length=200),
    created_after: str | None = timestamp_query("Jobs created at or after this time."),
    created_before: str | None = timestamp_query("Jobs created before this time."),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
) -> JSONResponse:
    query = JobFilter(
        states=tuple(state or ()),
        name=name,
        queue=queue,
        created_after=parse_timestamp(created_after, "created_after"),
        created_before=parse_timestamp(created_before, "created_before"),
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    found = await _app(request).list_page_async(query)
    more = query.offset + len(found.jobs) < found.total
    body = JobList(
        items=[bodies.job_status(request, job) for job in found.jobs],
        total=found.total,
        page=page,
        per_page=per_page,
        next_link=str(request.url.include_query_params(page=page + 1)) if more else None,
    )
    return JSONResponse(body.wire())


@router.get(
    "/{job_id}",
    operation_id="get_job",
    dependencies=[can_view],
    response_model=None,
    responses=openapi.responses(
        openapi.NOT_FOUND,
        {
            200: {
                "model": JobStatus,
                "description": "The job's status; `Retry-After` while it is active.",
                "headers": {"Retry-After": openapi.RETRY_AFTER},
            },
            303: {
                "model": JobStatus,
                "description": "Completed: `Location` is the output.",
                "headers": {"Location": openapi.LOCATION},
            },
            405: openapi.error("A job's name: its path only takes POST.", Allow=openapi.ALLOW),
        },
    ),
    summary="The job monitor",
)
async def monitor(
    request: Request,
    job_id: str,
    redirect: bool = Query(True, description="false: answer 200 even once completed."),
) -> JSONResponse:
    _not_a_job_name(request, job_id)
    job = await _app(request).get_async(job_id)
    body = bodies.job_status(request, job).wire()
    if job.state is JobState.COMPLETED and redirect:
        location = bodies.job_url(request, job.id, "/output")
        return JSONResponse(body, status_code=303, headers={"Location": location})
    headers = {"Retry-After": str(bodies.retry_after(job))} if job.state.is_active else {}
    return JSONResponse(body, headers=headers)


@router.get(
    "/{job_id}/status",
    operation_id="get_job_status",
    dependencies=[can_view],
    response_model=None,
    responses=openapi.responses(
        openapi.NOT_FOUND,
        {
            200: {
                "model": Operation,
                "description": "The LRO status; `Retry-After` until it is terminal.",
                "headers": {"Retry-After": openapi.RETRY_AFTER},
            }
        },
    ),
    summary="The status view for long-running-operation clients",
)
async def operation_status(request: Request, job_id: str) -> JSONResponse:
    job = await _app(request).get_async(job_id)
    headers = {"Retry-After": str(bodies.retry_after(job))} if job.state.is_active else {}
    return JSONResponse(bodies.operation(request, job).wire(), headers=headers)


@router.get(
    "/{job_id}/output",
    operation_id="get_job_output",
    dependencies=[can_view],
    response_model=None,
    responses=openapi.responses(
        {
            200: {"description": "The job's result as JSON.", "content": {"application/json": {}}},
            404: openapi.error("No such job, or it has not completed (see `job.state`)."),
        }
    ),
    summary="The result of a completed job",
)
async def output(request: Request, job_id: str) -> JSONResponse:
    job = await _app(request).get_async(job_id)
    if job.state is not JobState.COMPLETED:
        raise ApiError(
            404,
            "NoOutput",
            f"job {job.id} is {job.state.value}; it has no output until it completes",
            job=bodies.job_status(request, job),
        )
    return JSONResponse(job.result)


@router.delete(
    "/{job_id}",
    operation_id="delete_job",
    dependencies=[can_manage],
    status_code=204,
    response_class=Response,
    responses=openapi.responses(
        openapi.NOT_FOUND,
        {405: openapi.error("A job's name: its path only takes POST.", Allow=openapi.ALLOW)},
    ),
    summary="Cancel the job if active, then remove it and its result",
)
async def delete(request: Request, job_id: str) -> Response:
    _not_a_job_name(request, job_id)
    await _app(request).delete_async(job_id)
    return Response(status_code=204)


@router.post(
    "/{job_id}/cancel",
    operation_id="cancel_job",
    dependencies=[can_manage],
    response_model=JobStatus,
    responses=openapi.responses(
        openapi.NOT_FOUND, {409: openapi.error("The job has already finished.")}
    ),
    summary="Cancel a waiting job, or ask a running one to stop",
)
async def cancel(request: Request, job_id: str) -> JSONResponse:
    job = await _app(request).cancel_async(job_id)
    return JSONResponse(bodies.job_status(request, job).wire())


@router.post(
    "/{job_id}/retry",
    operation_id="retry_job",
    dependencies=[can_manage],
    status_code=202,
    response_model=None,
    responses=openapi.responses(
        openapi.NOT_FOUND,
        {
            202: {
                "model": JobStatus,
                "description": "Pending again; poll `Location`.",
                "headers": {
                    "Location": openapi.LOCATION,
                    "Operation-Location": openapi.OPERATION_LOCATION,
                    "Retry-After": openapi.RETRY_AFTER,
                },
                "links": openapi.JOB_LINKS,
            },
            409: openapi.error("Only failed or cancelled jobs can be retried."),
        },
    ),
    summary="Run a failed or cancelled job again",
)
async def retry(request: Request, job_id: str) -> JSONResponse:
    job = await _app(request).retry_async(job_id)
    headers = {
        "Location": bodies.job_url(request, job.id),
        "Operation-Location": bodies.job_url(request, job.id, "/status"),
        "Retry-After": str(bodies.retry_after(job)),
    }
    return JSONResponse(bodies.job_status(request, job).wire(), status_code=202, headers=headers)


@router.get(
    "/{job_id}/logs",
    operation_id="get_job_logs",
    dependencies=[can_view],
    response_model=JobLogs,
    responses=JobResponses,
    summary="The job's log lines, oldest first",
)
async def logs(
    request: Request,
    job_id: str,
    after: int = Query(0, ge=0, le=MAX_LOG_SEQ, description="Skip this many lines."),
    limit: int = Query(200, ge=1, le=1000),
) -> JSONResponse:
    app = _app(request)
    await app.get_async(job_id)
    entries = await app.logs_async(job_id, after, limit)
    lines = [
        LogLine(seq=after + i + 1, at=e.at, level=e.level, message=e.message)
        for i, e in enumerate(entries)
    ]
    return JSONResponse(JobLogs(items=lines, next_after=after + len(lines)).wire())


@router.get(
    "/{job_id}/blocker",
    operation_id="get_job_blocker",
    dependencies=[can_view],
    response_model=JobBlockers,
    responses=JobResponses,
    summary="Why the job is not running: what holds it, most fundamental first",
)
async def blocker(request: Request, job_id: str) -> JSONResponse:
    explanation = await _app(request).explain_async(job_id)
    reasons = [
        Blocker(
            kind=reason.kind,
            message=reason.message,
            until=reason.until,
            job_ids=list(reason.job_ids),
            details=reason.details,
        )
        for reason in explanation.reasons
    ]
    body = JobBlockers(
        id=explanation.job_id,
        state=explanation.state,
        checked_at=explanation.checked_at,
        reasons=reasons,
    )
    return JSONResponse(body.wire())
