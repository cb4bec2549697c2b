"""The JSON bodies the HTTP API answers with, as Pydantic models (camelCase on the wire)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..explanations import BlockerKind
from ..models import JobState


class Body(BaseModel):
    """Base of every response model: camelCase aliases, serialised by alias."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        """The JSON data sent to clients."""
        return self.model_dump(mode="json", by_alias=True)


class FieldError(Body):
    """One problem with one field of the request."""

    code: str
    message: str
    target: str
    loc: list[str | int]


class ErrorInfo(Body):
    """The Microsoft REST guidelines' error object: a code, a message, field details."""

    code: str
    message: str
    target: str | None = None
    details: list[FieldError] = Field(default_factory=list)


class JobError(Body):
    """What the job's last attempt raised, as text."""

    code: str
    message: str
    attempt: int
    traceback: str = ""
    rule: str | None = Field(
        default=None,
        description='The retry rule that decided what the error led to ("discard_on: '
        'ValueError", "not in retry_on", "Retry(after=30)", ...), if one did.',
    )


class JobLinks(Body):
    """Absolute URLs of the job's resources."""

    self_: str = Field(alias="self")
    status: str
    output: str
    logs: str
    events: str


class JobStatus(Body):
    """The job monitor: where a job is, what it has done, where to look next."""

    id: str
    name: str
    state: JobState
    queue: str
    priority: int
    args: dict[str, Any]
    progress: float
    message: str | None
    attempt: int
    max_attempts: int
    losses: int = Field(
        description="Attempts that ended because their worker was lost (killed, frozen, cut "
        "off); each spent none of the job's retries, so max_attempts grew by one for each."
    )
    snoozes: int = Field(
        default=0,
        description="Times the job snoozed (raise Snooze or ctx.snooze); each spent no "
        "attempt, so max_attempts grew by one for each.",
    )
    created_at: datetime
    run_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested: bool
    error: JobError | None
    duplicate_of: str | None
    joined: bool = Field(
        default=False, description="True when this request returned an existing job."
    )
    links: JobLinks


class ErrorResponse(Body):
    """Every 4xx/5xx body; `job` is set when the error is about an existing job."""

    error: ErrorInfo
    job: JobStatus | None = None


class OperationStatus(enum.StrEnum):
    """The LRO status vocabulary of the Microsoft REST API guidelines."""

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


class OperationError(Body):
    code: str
    message: str


class Operation(Body):
    """The status view polled by generic long-running-operation clients."""

    id: str
    status: OperationStatus
    state: JobState
    percent_complete: float
    created_date_time: datetime
    last_action_date_time: datetime
    error: OperationError | None = None
    resource_location: str | None = None


class JobList(Body):
    """One page of jobs, newest first, with the total number of matches."""

    items: list[JobStatus]
    total: int
    page: int
    per_page: int
    next_link: str | None = None


class LogLine(Body):
    seq: int
    at: datetime
    level: str
    message: str


class JobLogs(Body):
    items: list[LogLine]
    next_after: int = Field(description="Pass as `after` to read the lines that follow.")


class Throughput(Body):
    last_minute: int
    last_hour: int


class StatsBody(Body):
    counts: dict[str, int] = Field(description="Jobs per state, every state listed.")
    throughput: Throughput


class Worker(Body):
    id: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    running: list[str]


class WorkerList(Body):
    items: list[Worker]


class Health(Body):
    status: str


class Blocker(Body):
    """One thing that holds a job, or what a job that is not waiting does instead."""

    kind: BlockerKind
    message: str = Field(description="One readable line with the facts.")
    until: datetime | None = Field(description="When it lets go by itself, where that is known.")
    job_ids: list[str] = Field(
        description="The jobs it names: running jobs that fill a limit, the job a skipped "
        "one duplicated."
    )
    details: dict[str, Any] = Field(description="The facts behind the message, by `kind`.")


class JobBlockers(Body):
    """Why a job is not running: every hold on it, most fundamental first; or what it does
    instead of waiting (kind `not_waiting`, `skipped`), or `ready`."""

    id: str
    state: JobState
    checked_at: datetime = Field(description="When the facts were read (the database's time).")
    reasons: list[Blocker]
