"""The Backend protocol: the only way anything touches storage."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..explanations import Explanation
from ..history_models import HistoryBucket, HistoryPoint, HistoryTotal, WorkerLoss
from ..models import (
    BulkAction,
    ClaimedJob,
    EnqueueResult,
    Job,
    JobFilter,
    JobPage,
    Lease,
    LogEntry,
    NewJob,
    NewRecurring,
    Outcome,
    ProgressUpdate,
    QueueInfo,
    QueueLimits,
    Recurring,
    Stats,
    SweepResult,
    WorkerInfo,
)
from ..workflow_models import DependencyOutcome, NewWorkflow, Workflow, WorkflowPage
from .history_rules import SETTLE_S
from .policy import MAX_LOSSES, LossBounds

Unsubscribe = Callable[[], None]
#: Channels a backend notifies: "work" (payload: queue), "finished" and "cancel" (payload: job id).
CHANNELS = ("work", "finished", "cancel")
#: A worker that heartbeat within this many seconds counts as live: in the worker list, in a
#: queue's workers, and in why a job is not running.
LIVE_WORKER_S = 60.0


class Clock(Protocol):
    """Source of the current time in epoch seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> float:
        return time.time()


@runtime_checkable
class Backend(Protocol):
    """Storage operations named for what they do in a job's life. All are async and atomic."""

    url: str
    #: A claim can run while an outcome write commits (separate connections), so a worker
    #: gains by claiming in smaller batches that overlap; False where one writer serializes.
    claims_overlap_writes: bool

    async def open(self) -> None:
        """Connect and apply migrations if `migrate` is on."""

    async def close(self) -> None: ...

    async def migrate(self) -> list[str]:
        """Apply pending schema migrations; return the versions applied."""

    async def enqueue(self, job: NewJob) -> EnqueueResult:
        """Store a job, applying its uniqueness policy and idempotency key atomically."""

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        """Store many jobs in one transaction."""

    def enqueue_blocking(self, job: NewJob) -> EnqueueResult | None:
        """Store a job from a thread other than the backend's loop, in that thread, if this
        backend can (None otherwise: the caller then awaits `enqueue` on the loop)."""

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        names: Sequence[str] | None = None,
    ) -> list[ClaimedJob]:
        """Mark up to `limit` ready jobs running for this worker, honouring priority and lanes;
        only jobs of these `names`, if given (a drain of some jobs)."""

    async def plain_due(self, queues: Sequence[str], names: Sequence[str] | None = None) -> bool:
        """Whether a job with no lane and no rate key is due in these queues (paused ones and
        those with limits aside), read without row locks: a claim skips jobs another
        transaction holds or waits on, so a burst claims again instead of ending."""
        ...

    def next_slot_in(self) -> float | None:
        """Seconds until a rate key that this backend's claims found at its limit may start
        again (None: none known), so that an idle worker need not wait out its poll."""
        ...

    async def heartbeat(
        self, worker: WorkerInfo, leases: Sequence[Lease], *, max_age_s: float | None = None
    ) -> set[str]:
        """Mark the worker alive and renew exactly these leases (job, attempt, worker), each
        only if it still holds and, with `max_age_s`, was renewed less than that long ago; no
        other row is touched. Returns the ids of the leases not renewed."""

    async def running_leases(self, worker_id: str) -> dict[str, tuple[int, bool]]:
        """This worker's running jobs: id → (attempt, cancellation requested)."""

    async def save_progress(
        self, updates: Sequence[ProgressUpdate], max_log_entries: int
    ) -> set[str]:
        """Write buffered progress and logs (fenced); return ids of lost leases."""

    async def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record how attempts ended (fenced); True where the lease still held."""

    async def requeue(self, leases: Sequence[Lease]) -> int:
        """Give running jobs back to the queue without counting the attempt (shutdown)."""

    async def cancel(self, job_id: str) -> Job:
        """Cancel a waiting job now, or ask the worker of a running one to stop."""

    async def retry(self, job_id: str) -> Job:
        """Make a failed or cancelled job pending again with one more attempt."""

    async def delete(self, job_id: str) -> bool:
        """Remove a finished job with its logs; False if there was none."""

    async def apply_to_many(self, action: BulkAction, job_ids: list[str]) -> list[str]:
        """Retry, cancel or delete (cancelling first) each of these jobs that may be, in one
        transaction; the ids changed. Jobs in another state, or gone, are left as they are."""

    async def get(self, job_id: str) -> Job | None: ...

    # -- workflows and batches (rules: dependency_rules) -----------------------------------
    #
    # `enqueue` stores a job with `after` ids too: it waits for them, as a workflow's members
    # wait for each other. Every change that ends a job (finish, cancel, sweep, requeue,
    # delete) counts it on its dependents' edges in the same transaction, releasing or
    # cancelling them there, so that no dependent waits for a job that already ended.

    async def start_workflow(
        self, workflow: NewWorkflow, jobs: Sequence[NewJob]
    ) -> list[EnqueueResult]:
        """Store a workflow or batch and its jobs in one transaction; each job's `after` ids
        are earlier in `jobs` or already stored. An unknown `after` id raises JobNotFound
        and nothing is stored."""

    async def add_to_batch(self, batch_id: str, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        """Add jobs to a batch whose callbacks have not been released yet (called from a
        running member): the callbacks wait for them too. Raises WorkflowNotFound, or
        InvalidStateError once the batch has ended."""

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        """A workflow with its members counted per state; None if there is none."""

    async def list_workflows(self, limit: int = 50, offset: int = 0) -> WorkflowPage:
        """Workflows and batches, newest first."""

    async def workflow_jobs(self, workflow_id: str) -> list[Job]:
        """A workflow's members in the order they were stored."""

    async def dependencies(self, job_id: str) -> list[DependencyOutcome]:
        """How the jobs a job depends on ended (or not yet), in the order given at enqueue;
        a dependency pruned since reads as cancelled."""

    async def cancel_workflow(self, workflow_id: str) -> Workflow:
        """Cancel every member that has not started and ask running ones to stop."""

    async def retry_workflow(self, workflow_id: str) -> Workflow:
        """Run again the members that failed or were cancelled (and what waits on them);
        completed members and released callbacks stay as they are."""

    async def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """The jobs of these ids that exist, in the order given, read at once."""

    async def blockers(self, job_id: str, stale_after_s: float) -> Explanation | None:
        """What holds the job, or what it does instead of waiting, read in one transaction
        (workers count as live if they heartbeated within `stale_after_s`); None if there
        is no such job."""

    async def list_jobs(self, query: JobFilter) -> JobPage: ...

    async def logs(self, job_id: str, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        """Log lines of a job, oldest first, skipping the first `after` lines."""

    async def stats(self) -> Stats: ...

    async def sweep(
        self,
        stall_timeout_s: float,
        max_losses: int | LossBounds = MAX_LOSSES,
        spacing_s: float = 0.0,
    ) -> SweepResult:
        """Stage due jobs and take back the jobs of workers that stopped heartbeating: each
        runs again without spending a retry, unless this loss is its `max_losses`th; then it
        fails with WorkerLost. Jobs put back for their last chance go back `spacing_s` apart."""

    async def prune(self, batch_size: int = 1000) -> int:
        """Delete finished jobs past their retention, and rate starts past their window;
        return how many jobs."""

    # -- history (rules: history_rules) -------------------------------------------------------

    async def roll_up_history(self, settle_s: float = SETTLE_S) -> int:
        """Fold jobs that finished at least `settle_s` ago, past the rollup's watermark, into
        per-minute buckets (a batch at a time; the watermark moves in the same transaction, so
        concurrent rollups count each job once), fold minutes older than a day into hours and
        delete old hours; return how many jobs were folded. `prune` folds what it deletes
        that the rollup has not reached."""

    async def history_series(
        self, since: datetime, step_s: int, queue: str | None = None, name: str | None = None
    ) -> list[HistoryPoint]:
        """Jobs finished per queue, job name and state in steps of `step_s` seconds since
        `since`: the history's buckets, then the jobs the rollup has not folded yet (so the
        counts are exact); a step may come in several rows."""

    async def history_totals(self, since: datetime, until: datetime) -> list[HistoryTotal]:
        """Jobs finished per queue, job name and state between two times."""

    async def history_buckets(
        self, name: str, since: datetime, step_s: int, queue: str | None = None
    ) -> list[HistoryBucket]:
        """One job name's buckets since `since` (minutes for steps under an hour, else hours),
        with their histograms, then those of the jobs the rollup has not folded yet."""

    async def waiting_queues(self, stale_after_s: float) -> list[QueueInfo]:
        """Every queue with its pause, live workers and waiting jobs (counted as pending,
        with the oldest's due time) and no other count: read without scanning every job."""

    async def worker_losses(self, since: datetime, limit: int = 500) -> list[WorkerLoss]:
        """Jobs taken back from lost workers since `since`, newest first."""

    async def unregister_worker(self, worker_id: str) -> None: ...

    async def list_workers(self, stale_after_s: float) -> list[WorkerInfo]: ...

    async def sync_queue_limits(self, declared: Sequence[QueueLimits]) -> None:
        """Set the limits of the queues declared in code (storing those without a row) and
        clear the limits of every other queue; whether a queue is paused is left alone."""

    async def pause_queue(self, name: str, by: str | None = None) -> QueueInfo:
        """Stop claims from a queue (its running jobs finish), storing it if it has no row;
        a queue already paused keeps when and by whom it was paused."""

    async def resume_queue(self, name: str) -> QueueInfo:
        """Let a paused queue's jobs be claimed again; QueueNotFound if nothing is stored of it."""

    async def list_queues(self, stale_after_s: float) -> list[QueueInfo]:
        """Every queue with a row, a stored job or a live worker serving it, by name; a worker
        is live if it heartbeat within `stale_after_s`."""

    async def get_queue(self, name: str, stale_after_s: float) -> QueueInfo | None:
        """One queue as `list_queues` shows it; None if nothing is stored of it."""

    async def now(self) -> datetime:
        """The storage's current time (the database's clock where it has one)."""

    async def add_recurring(self, new: NewRecurring) -> Recurring:
        """Store a recurring definition; ConfigurationError if its name is taken."""

    async def sync_recurring(self, declared: Sequence[NewRecurring]) -> None:
        """Upsert definitions declared in code; disable code definitions no longer declared."""

    async def list_recurring(self) -> list[Recurring]: ...

    async def get_recurring(self, recurring_id: str) -> Recurring | None: ...

    async def set_recurring_enabled(
        self, recurring_id: str, enabled: bool, next_fire_at: datetime
    ) -> Recurring:
        """Enable or disable a definition; RecurringNotFound if there is none."""

    async def remove_recurring(self, recurring_id: str) -> bool: ...

    async def due_recurring(self, now: datetime) -> list[Recurring]:
        """Enabled definitions whose next tick is at or before `now`."""

    async def fire_recurring(
        self,
        recurring_id: str,
        expected_next: datetime,
        job: NewJob | None,
        next_fire_at: datetime,
    ) -> EnqueueResult | None:
        """Advance a due definition if no other scheduler did, storing its tick's job (once)."""

    async def enqueue_recurring_run(self, job: NewJob) -> EnqueueResult:
        """Store a run of a recurring definition started by hand."""

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Unsubscribe:
        """Call `callback(payload)` on the backend's loop whenever `channel` is notified."""
