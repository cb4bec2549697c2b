"""Rules both dialects apply, decided once: which states are active, how a job request
resolves against stored jobs, which ready jobs a claim takes, what state an outcome or a
stalled attempt leads to, and whom a write wakes. The dialects read the facts these
functions need and write what they decide; they decide nothing themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InvalidStateError
from ..models import (
    ACTIVE_STATES,
    EnqueueResult,
    Job,
    JobError,
    JobFilter,
    JobState,
    Lease,
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


# -- claim: which ready jobs, in which order ---------------------------------------------

#: Laned jobs a claim ranks first, in claim order; the whole backlog only if these give too
#: few (`rank_whole_backlog`).
LANE_SCAN = 500


class ClaimRow(Protocol):
    """A ready job's row as a claim reads it (a PostgreSQL dict or a sqlite3.Row)."""

    def __getitem__(self, key: str) -> Any: ...


def claim_order(row: ClaimRow) -> tuple[Any, ...]:
    """The order claims take ready jobs in: priority first (highest), then run_at, then seq."""
    return (-row["priority"], row["run_at"], row["seq"])


def last_if_full(plain: Sequence[ClaimRow], limit: int) -> tuple[Any, ...] | None:
    """The claim key of the last plain job chosen when plain jobs alone fill the claim."""
    return claim_order(plain[-1]) if len(plain) >= limit else None


def rank_whole_backlog(
    ranked: Sequence[ClaimRow], limit: int, first_unscanned: ClaimRow | None, after: Any
) -> bool:
    """Whether the laned jobs beyond the first LANE_SCAN must be ranked too: only if the
    first scan gave fewer than `limit`, more exist, and the first one left out could still
    be claimed before `after` (the last plain job chosen). Each lane's earliest jobs are in
    the first scan, so its ranks are right; the answer equals ranking everything."""
    if len(ranked) >= limit or first_unscanned is None:
        return False
    return after is None or claim_order(first_unscanned) <= after


def choose(plain: Sequence[ClaimRow], laned: Sequence[ClaimRow], limit: int) -> list[ClaimRow]:
    """The jobs a claim takes: the first `limit` of both kinds, in claim order."""
    return sorted([*plain, *laned], key=claim_order)[:limit]


# -- finish: the state an attempt's end leads to -----------------------------------------

#: The message recorded when a cancel request ends an attempt.
CANCELLED_BY_REQUEST = "cancelled by request"
#: The error recorded when a cancel request ends an attempt; it wins over any outcome.
CANCELLED = JobError(type="Cancelled", message=CANCELLED_BY_REQUEST)


def outcome_state(outcome: Outcome) -> JobState:
    """The state an attempt's outcome leads to, unless a cancel request came in meanwhile
    (then `cancelled`, whatever the outcome)."""
    if outcome.kind != "retry":
        return STATES[outcome.kind]
    return JobState.SCHEDULED if outcome.retry_delay_s > 0 else JobState.PENDING


def recovery(
    attempt: int, max_attempts: int, cancel_requested: bool, worker_id: str | None
) -> tuple[JobState, JobError]:
    """What a job whose worker stopped heartbeating becomes, and the error recorded:
    cancelled if asked; else pending while attempts remain (its run_at kept, so it is claimed
    before the backlog) or failed, with the worker named as lost."""
    if cancel_requested:
        return JobState.CANCELLED, CANCELLED
    message = f"worker {worker_id or '?'} stopped heartbeating during attempt {attempt}"
    lost = JobError(type="WorkerLost", message=message, attempt=attempt)
    return (JobState.PENDING if attempt < max_attempts else JobState.FAILED), lost


def sweep_result(staged: int, recovered: dict[str, JobState]) -> tuple[SweepResult, list[str]]:
    """A sweep's counts, and the ids of the recovered jobs that ended (not put back)."""
    states = list(recovered.values())
    result = SweepResult(
        staged=staged,
        requeued=states.count(JobState.PENDING),
        failed=states.count(JobState.FAILED),
        cancelled=states.count(JobState.CANCELLED),
    )
    return result, [job_id for job_id, state in recovered.items() if state is not JobState.PENDING]


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
        found.append(("search", (pattern, pattern)))
    return found


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
    due_now = any(o.kind == "retry" and o.retry_delay_s <= 0 for o in outcomes)
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


def after_sweep(result: SweepResult, ended: Sequence[str]) -> Wakeups:
    return Wakeups(work=bool(result.staged or result.requeued), finished=tuple(ended))


def after_delete(job_id: str, deleted: bool) -> Wakeups:
    return Wakeups(finished=(job_id,)) if deleted else NOBODY
