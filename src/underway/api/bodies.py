"""Turning stored jobs into API bodies, with absolute URLs built from the request."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request

from ..models import Job, JobState
from ..web.urls import absolute_url
from . import schemas

OPERATION_STATUS = {
    JobState.WAITING: schemas.OperationStatus.NOT_STARTED,
    JobState.SCHEDULED: schemas.OperationStatus.NOT_STARTED,
    JobState.PENDING: schemas.OperationStatus.NOT_STARTED,
    JobState.RUNNING: schemas.OperationStatus.RUNNING,
    JobState.COMPLETED: schemas.OperationStatus.SUCCEEDED,
    JobState.FAILED: schemas.OperationStatus.FAILED,
    JobState.CANCELLED: schemas.OperationStatus.CANCELED,
    JobState.SKIPPED: schemas.OperationStatus.CANCELED,
}
MAX_RETRY_AFTER_S = 60


def job_path(job_id: str, suffix: str = "") -> str:
    return f"/api/jobs/{quote(job_id, safe='')}{suffix}"


def job_url(request: Request, job_id: str, suffix: str = "") -> str:
    return absolute_url(request, job_path(job_id, suffix))


def retry_after(job: Job, now: datetime | None = None) -> int:
    """Seconds a poller should wait: until run_at for scheduled jobs, else one second."""
    if job.state is JobState.SCHEDULED:
        wait = (job.run_at - (now or datetime.now(UTC))).total_seconds()
        return max(1, min(MAX_RETRY_AFTER_S, math.ceil(wait)))
    return 1


def job_status(request: Request, job: Job, *, joined: bool = False) -> schemas.JobStatus:
    error = job.error
    return schemas.JobStatus(
        id=job.id,
        name=job.name,
        state=job.state,
        queue=job.queue,
        priority=job.priority,
        args=job.args,
        progress=job.progress,
        message=job.message,
        attempt=job.attempt,
        max_attempts=job.max_attempts,
        losses=job.losses,
        snoozes=job.snoozes,
        created_at=job.created_at,
        run_at=job.run_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        cancel_requested=job.cancel_requested,
        error=None
        if error is None or job.state is JobState.COMPLETED
        else schemas.JobError(
            code=error.type,
            message=error.message,
            attempt=error.attempt,
            traceback=error.traceback,
            rule=error.rule,
        ),
        duplicate_of=job.duplicate_of,
        joined=joined,
        links=schemas.JobLinks(
            self=job_url(request, job.id),
            status=job_url(request, job.id, "/status"),
            output=job_url(request, job.id, "/output"),
            logs=job_url(request, job.id, "/logs"),
            events=job_url(request, job.id, "/events"),
        ),
    )


def operation(request: Request, job: Job) -> schemas.Operation:
    status = OPERATION_STATUS[job.state]
    return schemas.Operation(
        id=job.id,
        status=status,
        state=job.state,
        percent_complete=job.progress,
        created_date_time=job.created_at,
        last_action_date_time=job.finished_at or job.started_at or job.created_at,
        error=_operation_error(job),
        resource_location=job_url(request, job.id, "/output")
        if status is schemas.OperationStatus.SUCCEEDED
        else None,
    )


def _operation_error(job: Job) -> schemas.OperationError | None:
    if job.state is JobState.SKIPPED:
        message = job.skip_reason or "a job with the same arguments was active"
        return schemas.OperationError(code="Skipped", message=message)
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        error = job.error
        default = "Cancelled" if job.state is JobState.CANCELLED else "Failed"
        return schemas.OperationError(
            code=error.type if error and error.type else default,
            message=error.message if error else f"the job was {job.state.value}",
        )
    return None
