"""Plain data shared by the app, the worker and the backends."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# Re-exported: queues, workers and sweeps were described here before they had modules.
from .queue_models import QueueInfo as QueueInfo
from .queue_models import QueueLimits as QueueLimits
from .queue_models import WorkerInfo as WorkerInfo
from .sweep_models import LostAttempt as LostAttempt
from .sweep_models import SweepResult as SweepResult

UniqueMode = Literal["join", "skip", "queue"]
#: When a job that depends on others runs once they ended: "completed": if all completed
#: (beyond `tolerate` that did not, it is cancelled at once); "ended": whatever became of
#: them; "failed": only if one or more did not complete (a batch's on_failure callback).
DependencyRule = Literal["completed", "ended", "failed"]
#: How dependencies' results are given: "value" (the one dependency's result), "list" (all
#: results, in order; None for one that did not complete), "summary" (a batch's summary).
ResultsShape = Literal["value", "list", "summary"]
ListOrder = Literal["created", "started", "duration"]
#: What a bulk action does to each job it matches.
BulkAction = Literal["retry", "cancel", "delete"]


class JobState(enum.StrEnum):
    """Where a job is in its life."""

    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    #: Waiting for the jobs it depends on to end.
    WAITING = "waiting"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES

    @property
    def is_finished(self) -> bool:
        return self in FINISHED_STATES


ACTIVE_STATES = frozenset(
    {JobState.WAITING, JobState.SCHEDULED, JobState.PENDING, JobState.RUNNING}
)
FINISHED_STATES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED}
)


@dataclass(frozen=True, slots=True)
class JobError:
    """What an attempt raised, stored as text only (never re-imported)."""

    type: str
    message: str
    traceback: str = ""
    attempt: int = 0
    at: datetime | None = None
    #: The retry rule that decided what the error led to ("discard_on", "retry_on",
    #: "Retry(after=30)", ...), if one did.
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A validated job ready to be stored by `Backend.enqueue`."""

    id: str
    name: str
    queue: str
    priority: int
    args: dict[str, Any]
    max_attempts: int
    retention_s: float
    run_at: datetime | None = None
    delay_s: float = 0.0
    fingerprint: str | None = None
    unique: UniqueMode | None = None
    unique_for_s: float | None = None
    lane: str | None = None
    lane_limit: int | None = None
    idempotency_key: str | None = None
    recurring_id: str | None = None
    fire_at: datetime | None = None
    record_skipped: bool = True
    #: The rate limit key of the job (None: not rate-limited), at most `rate_limit` starts
    #: per `rate_window_s` seconds, in a fixed window if `rate_fixed` (else sliding).
    rate_key: str | None = None
    rate_limit: int | None = None
    rate_window_s: float | None = None
    rate_fixed: bool = False
    #: unique="queue" only: how many may wait at once (None: any number), and what happens
    #: to a request beyond that: skipped, or refused with QueueFull.
    queue_limit: int | None = None
    queue_full: Literal["skip", "raise"] = "skip"
    #: The workflow or batch it belongs to, if any.
    workflow_id: str | None = None
    #: The ids of the jobs it waits for, in the order their results are given to it.
    after: tuple[str, ...] = ()
    #: When it runs once they ended (`DependencyRule`), and how many that did not complete
    #: `"completed"` tolerates.
    dependency_rule: DependencyRule = "completed"
    tolerate: int = 0
    #: The parameter its dependencies' results are given in, and how: `ResultsShape`.
    results_into: str | None = None
    results_shape: ResultsShape = "list"
    trace_context: str | None = None  # a tracing integration's, carried to each attempt
    #: Jobs that wait for it (its webhook delivery), stored in the same transaction if, and
    #: only if, it is stored as itself (not resolved to another job, nor skipped).
    followers: tuple[NewJob, ...] = ()

    @property
    def plain(self) -> bool:
        """Whether a bulk insert can store it: no lookup first (no idempotency key,
        join/skip, cron tick or queue limit), and no edges or workflow to store with it."""
        return (
            self.idempotency_key is None
            and self.unique not in ("join", "skip")
            and self.recurring_id is None
            and self.queue_limit is None
            and not self.after
            and self.workflow_id is None
            and not self.followers
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job as read back from the backend."""

    id: str
    name: str
    queue: str
    priority: int
    state: JobState
    args: dict[str, Any]
    attempt: int
    max_attempts: int
    created_at: datetime
    run_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker_id: str | None = None
    progress: float = 0.0
    message: str | None = None
    result: Any = None
    error: JobError | None = None
    errors: tuple[JobError, ...] = ()
    fingerprint: str | None = None
    unique: UniqueMode | None = None
    lane: str | None = None
    cancel_requested: bool = False
    retention_s: float = 0.0
    log_count: int = 0
    logs_dropped: int = 0
    duplicate_of: str | None = None
    skip_reason: str | None = None
    recurring_id: str | None = None
    fire_at: datetime | None = None
    #: Attempts that ended because their worker was lost (killed, frozen, cut off); each one
    #: forgiven also raised max_attempts by one, so that it spent none of the job's retries.
    losses: int = 0
    #: Times the job snoozed (each raised max_attempts by one: a snooze spends no retry).
    snoozes: int = 0
    #: The key its starts are counted under for its rate limit (None: not rate-limited).
    rate_key: str | None = None
    #: The workflow or batch it belongs to, if any.
    workflow_id: str | None = None
    #: Of the jobs it depends on: how many have not ended yet, and how many ended without
    #: completing; `dependency_rule` is None for a job that depends on none.
    waiting_on: int = 0
    failed_dependencies: int = 0
    dependency_rule: DependencyRule | None = None
    tolerate: int = 0
    results_into: str | None = None
    results_shape: ResultsShape = "list"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker just claimed: what it needs to run this attempt, and no more."""

    id: str
    name: str
    args: dict[str, Any]
    attempt: int
    max_attempts: int
    #: Whether it waited for other jobs (its dependencies' outcomes are read before it runs).
    dependent: bool = False
    #: The workflow or batch it belongs to, if any.
    workflow_id: str | None = None
    queue: str = "default"
    due_at: float | None = None  # when it became due (epoch seconds), as stored
    trace_context: str | None = None


class EnqueueResult:
    """The stored job plus how uniqueness treated the request.

    A plain insert (`NewJob.plain`) knows its stored job without reading it back. That `Job`
    is built on the first read of `job`: a bulk enqueue's caller mostly needs only the ids,
    and building thousands of jobs took a quarter of `enqueue_many`'s time.
    """

    __slots__ = ("_inserted", "_job", "id", "joined", "name", "skipped", "state")

    def __init__(self, job: Job, joined: bool = False, skipped: bool = False) -> None:
        self.id = job.id
        self.name = job.name
        self.state = job.state
        self.joined = joined
        self.skipped = skipped
        self._job: Job | None = job
        self._inserted: tuple[NewJob, datetime, datetime] | None = None

    @classmethod
    def inserted(
        cls, new: NewJob, state: JobState, created_at: datetime, run_at: datetime
    ) -> EnqueueResult:
        """The result of inserting `new` as is, in the state and at the times the backend chose."""
        result = cls.__new__(cls)
        result.id = new.id
        result.name = new.name
        result.state = state
        result.joined = False
        result.skipped = False
        result._job = None
        result._inserted = (new, created_at, run_at)
        return result

    @property
    def job(self) -> Job:
        if self._job is None:
            assert self._inserted is not None
            new, created_at, run_at = self._inserted
            self._job = Job(
                id=new.id,
                name=new.name,
                queue=new.queue,
                priority=new.priority,
                state=self.state,
                args=new.args,
                attempt=0,
                max_attempts=new.max_attempts,
                created_at=created_at,
                run_at=run_at,
                fingerprint=new.fingerprint,
                unique=new.unique,
                lane=new.lane,
                retention_s=new.retention_s,
                rate_key=new.rate_key,
            )
        return self._job

    def __repr__(self) -> str:
        return f"EnqueueResult({self.job!r}, joined={self.joined}, skipped={self.skipped})"


@dataclass(frozen=True, slots=True)
class Lease:
    """The fencing token of one running attempt: every write about it must match all three."""

    job_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One timestamped line a job wrote with `ctx.log`."""

    at: datetime
    message: str
    level: str = "info"


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """Buffered progress and log lines of one attempt, written in one batch."""

    lease: Lease
    progress: float | None = None
    message: str | None = None
    logs: tuple[LogEntry, ...] = ()
    dropped: int = 0


OutcomeKind = Literal["completed", "failed", "retry", "cancelled", "snooze"]  # snooze: no attempt


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended, as the worker reports it to `Backend.finish`."""

    lease: Lease
    kind: OutcomeKind
    result: Any = None
    error: JobError | None = None
    #: How long a retry or a snooze waits before the job runs again.
    retry_delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Criteria for listing jobs; None means any."""

    states: tuple[JobState, ...] = ()
    name: str | None = None
    queue: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    search: str | None = None
    limit: int = 50
    offset: int = 0
    #: Newest stored first ("created"), most recently started first, or longest first
    #: ("duration": a running job counts until now); the last two rank the newest
    #: `policy.SORT_WINDOW` matches only, so that their cost does not grow with the table.
    order: ListOrder = "created"
    #: Keyset pagination: only jobs stored before this position (a page's `next_before`,
    #: opaque: each backend writes its own).
    before: str | None = None
    #: Look at no more than this many jobs below `before`: bounds a search's cost.
    scan: int | None = None
    #: False: do not count every match (`JobPage.total` is then the jobs on the page).
    count: bool = True
    #: Count no further than this (`JobPage.total` is then at most this): bounds a count.
    count_limit: int | None = None


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a job listing with the total count of matches."""

    jobs: list[Job]
    total: int
    #: Where a keyset walk of the "created" order goes on (the next page's `before`);
    #: None when nothing older is left to look at.
    next_before: str | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts of jobs per state and recent throughput."""

    counts: dict[str, int] = field(default_factory=dict)
    finished_last_minute: int = 0
    finished_last_hour: int = 0


Overlap = Literal["skip", "queue", "allow"]
CatchUp = Literal["one", "none"]


@dataclass(frozen=True, slots=True)
class NewRecurring:
    """A validated recurring definition ready to be stored."""

    id: str
    name: str
    job_name: str
    cron: str
    timezone: str
    args: dict[str, Any]
    enabled: bool
    overlap: Overlap
    catch_up: CatchUp
    from_code: bool
    next_fire_at: datetime


@dataclass(frozen=True, slots=True)
class Recurring:
    """A stored recurring definition with what became of its last run."""

    id: str
    name: str
    job_name: str
    cron: str
    timezone: str
    args: dict[str, Any]
    enabled: bool
    overlap: Overlap
    catch_up: CatchUp
    from_code: bool
    created_at: datetime
    next_fire_at: datetime | None
    last_fire_at: datetime | None = None
    last_job_id: str | None = None
    last_job_state: JobState | None = None
