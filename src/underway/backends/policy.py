"""Rules both dialects apply, decided once: which states are active, how a job request
resolves against stored jobs, what state an outcome or a stalled attempt leads to, and whom
a write wakes (which ready jobs a claim takes is `claiming`'s). The dialects read the facts
these functions need and write what they decide; they decide nothing themselves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import InvalidStateError, QueueFull
from ..models import (
    ACTIVE_STATES,
    EnqueueResult,
    Job,
    JobError,
    JobFilter,
    JobState,
    Lease,
    LostAttempt,
    NewJob,
    Outcome,
    SweepResult,
)

#: The active states (they still count for uniqueness and overlap) as a SQL list, for
#: `state IN ...`; sorted, so that the statement's text is the same in every process.
ACTIVE = "(" + ", ".join(sorted(f"'{state.value}'" for state in ACTIVE_STATES)) + ")"

#: Faster than calling the enum (this runs for every claimed job).
STATES = {state.value: state for state in JobState}


def state_condition(states: Iterable[JobState]) -> str:
    """`(state = 'a' OR state = 'b')` with the states written out, not bound, so that both
    backends' planners can use the partial indexes whose condition names them."""
    written = " OR ".join(f"state = '{JobState(state).value}'" for state in states)
    return f"({written})"


# -- enqueue: how a request resolves against what is stored --------------------------------


def keyed_result(keyed: Job) -> EnqueueResult:
    """A request whose idempotency key names a stored job gets that job."""
    return EnqueueResult(job=keyed, joined=True)


def checks_duplicates(job: NewJob) -> bool:
    """Whether an active job with the same fingerprint decides this request (join/skip)."""
    return job.unique in ("join", "skip") and job.fingerprint is not None


@dataclass(frozen=True)
class RecordSkip:
    """Store the request as a `skipped` row naming the active job it duplicates."""

    duplicate_of: str
    reason: str


def duplicate_result(job: NewJob, active: Job) -> EnqueueResult | RecordSkip:
    """What a join/skip request becomes while `active` has the same fingerprint."""
    if job.unique == "join":
        return EnqueueResult(job=active, joined=True)
    if not job.record_skipped:
        return EnqueueResult(job=active, skipped=True)
    return RecordSkip(active.id, f"job {active.id} with the same arguments is {active.state.value}")


def needs_lookup(job: NewJob) -> bool:
    """Whether storing `job` needs a lookup first: an idempotency key, join/skip, a cron
    tick or a queue limit (what `NewJob.plain` checks but dependencies)."""
    return (
        job.idempotency_key is not None
        or job.unique in ("join", "skip")
        or job.recurring_id is not None
        or job.queue_limit is not None
    )


def checks_queue_limit(job: NewJob) -> bool:
    """Whether the jobs waiting with the same fingerprint decide this request (a bounded
    unique="queue")."""
    return job.unique == "queue" and job.queue_limit is not None and job.fingerprint is not None


def queue_full_result(job: NewJob, waiting: int, first_waiting: str | None) -> RecordSkip | None:
    """What a bounded unique="queue" request becomes while `waiting` runs with its arguments
    wait: stored if there is room, else skipped or refused (QueueFull), as the job declares."""
    limit = job.queue_limit
    if limit is None or waiting < limit or first_waiting is None:
        return None
    if job.queue_full == "raise":
        raise QueueFull(job.name, waiting, limit)
    return RecordSkip(first_waiting, f"queue_limit {limit} reached: {waiting} runs wait")


def conflict_result(same_id: Job | None, same_tick: Job | None) -> EnqueueResult | None:
    """What an insert that collided resolves to: the job a retried call stored the first
    time, or the job of the same cron tick; None if neither exists (any more)."""
    if same_id is not None:
        return EnqueueResult(job=same_id, skipped=same_id.state is JobState.SKIPPED)
    return None if same_tick is None else EnqueueResult(job=same_tick, joined=True)


def overlap_skip(previous: Job | None, overlap: str) -> RecordSkip | None:
    """A cron tick recorded as skipped while the previous run is active, if the definition
    says so; None when the tick runs."""
    if previous is None or overlap != "skip":
        return None
    return RecordSkip(previous.id, f"previous run {previous.id} is still {previous.state.value}")


# -- finish: the state an attempt's end leads to -----------------------------------------

#: The message recorded when a cancel request ends an attempt.
CANCELLED_BY_REQUEST = "cancelled by request"
#: The error recorded when a cancel request ends an attempt; it wins over any outcome.
CANCELLED = JobError(type="Cancelled", message=CANCELLED_BY_REQUEST)


def outcome_state(outcome: Outcome) -> JobState:
    """The state an attempt's outcome leads to, unless a cancel request came in meanwhile
    (then `cancelled`, whatever the outcome): a retry or a snooze waits `retry_delay_s`."""
    if outcome.kind not in ("retry", "snooze"):
        return STATES[outcome.kind]
    return JobState.SCHEDULED if outcome.retry_delay_s > 0 else JobState.PENDING


def spends_no_attempt(outcome: Outcome) -> bool:
    """A snooze is not a failure: unless a cancel request wins, the job's max_attempts is
    raised by one (as for a lost worker) and its snoozes counted."""
    return outcome.kind == "snooze"


#: The loss of its worker that fails a job (a job that kills its worker every time runs this
#: many times; the losses before it spend no retries), as BullMQ's maxStalledCount bounds
#: stalls. A job option, `@app.job(max_losses=...)`, with the worker's `max_losses` default.
MAX_LOSSES = 3


@dataclass(frozen=True)
class LossBounds:
    """How many losses of its worker fail a job: the job's own `max_losses` where it
    declares one, else the sweeping worker's default."""

    default: int = MAX_LOSSES
    per_job: Mapping[str, int] = field(default_factory=dict)

    def of(self, job_name: str) -> int:
        return self.per_job.get(job_name, self.default)


def loss_bounds(max_losses: int | LossBounds) -> LossBounds:
    """A bound for every job, from one number or from per-job bounds."""
    return max_losses if isinstance(max_losses, LossBounds) else LossBounds(max_losses)


@dataclass(frozen=True)
class Recovery:
    """What a job whose worker stopped heartbeating becomes: its state, the error recorded,
    its count of losses, its attempt budget, how long it waits to run again, and the line its
    own log gets."""

    state: JobState
    error: JobError
    losses: int
    max_attempts: int
    log_level: str
    log_line: str
    delay_s: float = 0.0


def recovery(
    *,
    attempt: int,
    max_attempts: int,
    losses: int,
    cancel_requested: bool,
    worker_id: str | None,
    max_losses: int,
    delay_s: float = 0.0,
) -> Recovery:
    """A lost worker is not the job's failure. Cancelled if asked; else, until its losses
    reach `max_losses`, back in the queue with max_attempts raised by one (the lost attempt
    spends none of its retries, and "attempt N of M" still counts every run): pending with
    its run_at kept, so that it is claimed before the backlog, or scheduled `delay_s` from
    now. The loss that reaches `max_losses` fails it with WorkerLost, so a job that kills its
    worker every time cannot loop forever."""
    worker, lost = worker_id or "?", losses + 1
    was_lost = f"worker {worker} was lost during attempt {attempt}"
    if cancel_requested:
        line = f"{was_lost}; the job was cancelled, as requested"
        return Recovery(JobState.CANCELLED, CANCELLED, lost, max_attempts, "info", line)
    stopped = f"worker {worker} stopped heartbeating during attempt {attempt}"
    if lost >= max_losses:
        times = f"the job was lost {lost} times (max_losses is {max_losses})"
        error = JobError(type="WorkerLost", message=f"{stopped}; {times}", attempt=attempt)
        line = f"{was_lost}; {times}, so it failed"
        return Recovery(JobState.FAILED, error, lost, max_attempts, "error", line)
    error = JobError(type="WorkerLost", message=stopped, attempt=attempt)
    state, when = JobState.PENDING, ""
    if delay_s > 0:
        state, when = JobState.SCHEDULED, f", to run in {delay_s:.1f} s,"
    line = (
        f"{was_lost}; the job was put back in the queue{when} without spending a retry "
        f"(loss {lost}; max_losses is {max_losses})"
    )
    return Recovery(state, error, lost, max_attempts + 1, "warning", line, delay_s)


class StalledRow(Protocol):
    """A stalled job's row as a sweep reads it (id, name, attempt, max_attempts, losses,
    cancel_requested, worker_id)."""

    def __getitem__(self, key: str) -> Any: ...


def recoveries(
    stalled: Sequence[StalledRow], max_losses: int | LossBounds, spacing_s: float
) -> list[Recovery]:
    """What each stalled job one sweep found becomes. Jobs put back for their last chance
    (their next loss fails them) go back `spacing_s` apart, the first at once; the others all
    at once. Jobs lost together shared a worker, and one of them may be what kills it:
    claimed side by side again (they all go back ahead of the backlog), the others would be
    lost with it each time, and fail with it."""
    bounds = loss_bounds(max_losses)
    last_chance = [
        i
        for i, row in enumerate(stalled)
        if not row["cancel_requested"] and row["losses"] + 2 == bounds.of(row["name"])
    ]
    delays = [0.0] * len(stalled)
    for position, i in enumerate(last_chance):
        delays[i] = spacing_s * position
    return [
        recovery(
            attempt=row["attempt"],
            max_attempts=row["max_attempts"],
            losses=row["losses"],
            cancel_requested=bool(row["cancel_requested"]),
            worker_id=row["worker_id"],
            max_losses=bounds.of(row["name"]),
            delay_s=delay,
        )
        for row, delay in zip(stalled, delays, strict=True)
    ]


def lost_attempt(row: StalledRow, decided: Recovery) -> LostAttempt:
    """The record of a stalled job's attempt, taken back as `decided` says."""
    return LostAttempt(
        job_id=row["id"],
        name=row["name"],
        attempt=row["attempt"],
        worker_id=row["worker_id"],
        state=decided.state,
        losses=decided.losses,
        error=decided.error,
        delay_s=decided.delay_s,
    )


def sweep_result(staged: int, lost: Sequence[LostAttempt]) -> SweepResult:
    """A sweep's counts, with the attempts it took back from lost workers."""
    states = [attempt.state for attempt in lost]
    return SweepResult(
        staged=staged,
        requeued=states.count(JobState.PENDING) + states.count(JobState.SCHEDULED),
        failed=states.count(JobState.FAILED),
        cancelled=states.count(JobState.CANCELLED),
        lost=tuple(lost),
    )


# -- management: what may be cancelled or retried ------------------------------------------


def not_cancellable(job: Job) -> InvalidStateError:
    return InvalidStateError(f"job {job.id} is already {job.state.value}; nothing to cancel")


def not_retryable(job: Job) -> InvalidStateError:
    return InvalidStateError(
        f"job {job.id} is {job.state.value}; only failed or cancelled jobs can be retried"
    )


def duplicate_active(job_id: str) -> InvalidStateError:
    return InvalidStateError(
        f"job {job_id} cannot be retried: another job with the same arguments is active"
    )


def listing_filters(query: JobFilter) -> list[tuple[str, tuple[Any, ...]]]:
    """The conditions a job listing applies besides its states, by name, with their values;
    each dialect writes them in its own SQL (its LIST_FILTERS)."""
    found: list[tuple[str, tuple[Any, ...]]] = []
    for name, value in (
        ("name", query.name),
        ("queue", query.queue),
        ("created_after", query.created_after),
        ("created_before", query.created_before),
    ):
        if value is not None:
            found.append((name, (value,)))
    if query.search:
        pattern = like_pattern(query.search)
        found.append(("search", (pattern, pattern, pattern)))
    return found


#: Sorting by start or duration ranks this many of the newest matches, not the whole table.
SORT_WINDOW = 10_000


def listing_next(query: JobFilter, positions: list[str], floor: str | None) -> str | None:
    """Where a newest-first listing goes on: below its last job when the page is full, else
    below `floor`, where a bounded scan stopped with older jobs left (None: none left)."""
    if query.order != "created":
        return None
    if len(positions) >= query.limit > 0:
        return positions[-1]
    return floor


def like_pattern(search: str) -> str:
    """A LIKE pattern finding `search` anywhere, its wildcards escaped with a backslash."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- wake-ups: whom a write must tell -------------------------------------------------------


@dataclass(frozen=True)
class Wakeups:
    """What a committed write tells: workers that runnable work came (`work`), waiters that
    jobs ended (`finished`), workers running jobs that were asked to stop (`cancel`)."""

    work: bool = False
    finished: tuple[str, ...] = ()
    cancel: tuple[str, ...] = ()


NOBODY = Wakeups()
#: A job became runnable (a retry, a run started by hand).
NEW_WORK = Wakeups(work=True)


def after_enqueue(results: Iterable[EnqueueResult | None]) -> Wakeups:
    new = any(r is not None and r.state is JobState.PENDING and not r.joined for r in results)
    return Wakeups(work=new)


def after_finish(outcomes: Sequence[Outcome], held: Sequence[bool]) -> Wakeups:
    ended = tuple(o.lease.job_id for o, ok in zip(outcomes, held, strict=True) if ok)
    due_now = any(o.kind in ("retry", "snooze") and o.retry_delay_s <= 0 for o in outcomes)
    return Wakeups(work=due_now, finished=ended)


def after_requeue(leases: Sequence[Lease], states: Sequence[str]) -> Wakeups:
    cancelled = tuple(
        lease.job_id for lease, state in zip(leases, states, strict=True) if state == "cancelled"
    )
    return Wakeups(work="pending" in states, finished=cancelled)


def after_cancel(job: Job) -> Wakeups:
    if job.state.is_finished:
        return Wakeups(finished=(job.id,))
    return Wakeups(cancel=(job.id,))


def after_sweep(result: SweepResult) -> Wakeups:
    ended = tuple(lost.job_id for lost in result.lost if lost.state.is_finished)
    return Wakeups(work=bool(result.staged or result.requeued), finished=ended)


def after_delete(job_id: str, deleted: bool) -> Wakeups:
    return Wakeups(finished=(job_id,)) if deleted else NOBODY
