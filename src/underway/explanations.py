"""Why a job is not running: the facts a backend reads about it in one transaction, and the
`Explanation` that `backends.blocking` makes of them (plain data, like `models`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .models import Job, JobState, WorkerInfo

#: What a `Blocker` says holds a job, in the order an explanation lists them, most
#: fundamental first: the jobs it depends on (a waiting job), the job's own time, its
#: queue's pause, the limits it shares with other jobs (its queue's concurrency, its key's,
#: its own rate, its queue's rate), and last the deployment (no live worker serves its
#: queue). "skipped", "not_waiting" and "ready" stand alone: a skipped job never runs, a
#: running or finished one is not waiting, and nothing holds a ready one.
BlockerKind = Literal[
    "dependencies",
    "scheduled",
    "queue_paused",
    "queue_concurrency",
    "concurrency_key",
    "unique_queue",
    "rate_limit",
    "queue_rate_limit",
    "no_worker",
    "skipped",
    "not_waiting",
    "ready",
]


@dataclass(frozen=True, slots=True)
class Blocker:
    """One thing that holds a job, or what a job that is not waiting does instead.

    `until`: when it lets go by itself, where that is known; `job_ids`: the jobs it names
    (running jobs that fill a limit, the job a skipped one duplicated); `details`: the facts
    behind `message`, keyed by name."""

    kind: BlockerKind
    message: str
    until: datetime | None = None
    job_ids: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything that holds job `job_id`, as read at `checked_at` (the database's time)."""

    job_id: str
    state: JobState
    reasons: tuple[Blocker, ...]
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class RateFacts:
    """A rate limit and its key's starts still in the window: `count` of them, and when
    enough will have left it for one more start (`next_slot_at`; None below the limit)."""

    key: str
    limit: int
    window_s: float
    fixed: bool
    count: int
    next_slot_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunningFacts:
    """The jobs running under a limit: how many, and the ids of the first ones started."""

    count: int = 0
    ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueFacts:
    """A job's queue as its row in the queues table says (no row: not paused, no limits)."""

    name: str
    paused: bool = False
    paused_at: datetime | None = None
    paused_by: str | None = None
    concurrency: int | None = None
    running: RunningFacts = RunningFacts()
    rate: RateFacts | None = None


@dataclass(frozen=True, slots=True)
class LaneFacts:
    """A job's concurrency lane: its name, its limit and the jobs running in it."""

    name: str
    limit: int
    running: RunningFacts


@dataclass(frozen=True, slots=True)
class BlockingFacts:
    """What holds a job, as one read transaction found it at `now`."""

    job: Job
    now: datetime
    queue: QueueFacts
    lane: LaneFacts | None
    rate: RateFacts | None
    #: Live workers (heartbeat within the staleness bound), whatever queues they serve.
    live_workers: tuple[WorkerInfo, ...]
    #: Ready jobs ahead of it in its queue by claim order, counted up to a bound.
    ahead: int
    #: Of a waiting job: the first of the jobs it depends on that have not ended yet, in the
    #: order given (`Job.waiting_on` says how many there are).
    waiting_for: tuple[str, ...] = ()
