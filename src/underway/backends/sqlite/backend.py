"""The embedded default backend: one SQLite file in WAL mode, shared safely by many processes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ...errors import RecurringNotFound
from ...models import (
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
from .. import claiming, lookup_batches, policy
from ..base import Clock, SystemClock, Unsubscribe
from ..notifier import LocalNotifier
from ..policy import Wakeups
from . import claim, enqueue, finish, maintenance, manage, migrate, queues, reads, recurring
from . import leases as lease_sql
from .blockers import SQLiteBlockers
from .connection import SQLiteConnection
from .history_reads import SQLiteHistory
from .lookup_batch import enqueue_looked_up
from .open_errors import check_database_path, sqlite_path
from .wakeups import WakeupReceiver, WakeupSender
from .workflows import SQLiteWorkflows


class SQLiteBackend(SQLiteWorkflows, SQLiteBlockers, SQLiteHistory, manage.SQLiteManage):
    """Backend on a SQLite file: WAL, synchronous=FULL, writes serialised by BEGIN IMMEDIATE."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        migrate: bool = True,
        create: bool = True,
        busy_timeout_s: float = 5.0,
        lock_wait_s: float = 120.0,
        connection: SQLiteConnection | None = None,
    ) -> None:
        self.url = url
        self.claims_overlap_writes = False
        self._held = claiming.HeldKeys()
        #: A test's clock stands still while jobs are handed out: no margin for that.
        self._dispatch_s = claiming.DISPATCH_S if isinstance(clock, SystemClock) else 0.0
        self.path = sqlite_path(url)
        self._clock = clock
        self._migrate_on_open = migrate
        #: Whether opening may create a missing file (the embedded default) or must find one.
        self._create = create
        if connection is None:
            self._db, self._reader = (
                SQLiteConnection(
                    self.path,
                    busy_timeout_s=busy_timeout_s,
                    synchronous="FULL",
                    lock_wait_s=lock_wait_s,
                    create=create,
                )
                for _ in range(2)
            )
        else:  # one connection for writes and reads alike (the memory backend's)
            self._db = self._reader = connection
        self._notifier = LocalNotifier()
        self._wakeups = WakeupSender(self.path)
        self._receiver: WakeupReceiver | None = None
        self._work_subscribers = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        check_database_path(self.path, create=self._create)
        if self._migrate_on_open:
            await self.migrate()

    async def close(self) -> None:
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        self._wakeups.close()
        await self._db.close()
        if self._reader is not self._db:
            await self._reader.close()

    async def migrate(self) -> list[str]:
        return await self._db.script(migrate.apply_migrations)

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Unsubscribe:
        unsubscribe = self._notifier.subscribe(channel, callback)
        if channel != "work":
            return unsubscribe
        # Workers of other processes say when they commit work (see sqlite_wakeup).
        self._work_subscribers += 1
        if self._receiver is None:
            self._receiver = WakeupReceiver(self.path, lambda: self._notifier.notify("work"))
            self._receiver.start()

        def unsubscribe_work() -> None:
            unsubscribe()
            self._work_subscribers -= 1
            if self._work_subscribers == 0 and self._receiver is not None:
                self._receiver.stop()
                self._receiver = None

        return unsubscribe_work

    def _announce(self, *changes: Wakeups) -> None:
        """Tell this process's subscribers what a committed write changed, and wake the
        workers of other processes on the same file if it brought work."""
        for wakeups in changes:
            self._notifier.announce(wakeups)
        if any(wakeups.work for wakeups in changes):
            self._wake_others()

    def _wake_others(self) -> None:
        """Wake the workers of other backends on the same file (this one's are told in
        process); safe from any thread."""
        receiver = self._receiver
        self._wakeups.send(skip=receiver.name if receiver is not None else None)

    # -- enqueue ---------------------------------------------------------------------------

    async def enqueue(self, job: NewJob) -> EnqueueResult:
        return (await self.enqueue_many([job]))[0]

    def enqueue_blocking(self, job: NewJob) -> EnqueueResult | None:
        """Store a plain job from the caller's own thread, handing the transaction straight to
        the writer thread: no hop through the backend's loop. None if the job is not plain or
        its id is taken (a retried call): `enqueue` then decides."""
        if not job.plain:
            return None
        now = self._clock.now()

        def wake_workers(stored: list[EnqueueResult] | None) -> None:
            # From the writer thread at commit: the workers need not wait for the caller.
            if stored is None or not policy.after_enqueue(stored).work:
                return
            self._notifier.notify_from_thread(self._loop, "work")
            self._wake_others()

        stored = self._db.write_blocking(
            lambda c: enqueue.enqueue_plain(c, [job], now), committed=wake_workers
        )
        return None if stored is None else stored[0]

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        now = self._clock.now()

        def store(conn: sqlite3.Connection) -> list[EnqueueResult]:
            if all(job.plain for job in jobs):
                stored = enqueue.enqueue_plain(conn, jobs, now)
                if stored is not None:
                    return stored
            if lookup_batches.batchable(jobs):
                resolved = enqueue_looked_up(conn, jobs, now)
                if resolved is not None:
                    return resolved
            return [enqueue.enqueue_one(conn, job, now) for job in jobs]

        results = await self._db.write(store)
        self._announce(policy.after_enqueue(results))
        return results

    # -- the worker's side -------------------------------------------------------------------

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        names: Sequence[str] | None = None,
    ) -> list[ClaimedJob]:
        if limit <= 0 or not queues or (names is not None and not names):
            return []
        only = None if names is None else list(names)
        # The time is read once the write lock is held: a claim that waited for it must not
        # stamp its rate starts as older than they are.
        return await self._db.write(
            lambda c: claim.claim(
                c,
                worker_id,
                [*queues],
                limit,
                self._clock.now(),
                only,
                self._held,
                self._dispatch_s,
            )
        )

    async def plain_due(self, queues: Sequence[str], names: Sequence[str] | None = None) -> bool:
        args = ([*queues], None if names is None else list(names), self._clock.now())
        return await self._reader.read(lambda c: claim.plain_due(c, *args))

    def next_slot_in(self) -> float | None:
        return self._held.next_in(self._clock.now())

    async def heartbeat(
        self, worker: WorkerInfo, leases: Sequence[Lease], *, max_age_s: float | None = None
    ) -> set[str]:
        now = self._clock.now()
        return await self._db.write(
            lambda c: lease_sql.heartbeat(c, worker, leases, now, max_age_s)
        )

    async def running_leases(self, worker_id: str) -> dict[str, tuple[int, bool]]:
        return await self._reader.read(lambda c: reads.running_leases(c, worker_id))

    async def save_progress(
        self, updates: Sequence[ProgressUpdate], max_log_entries: int
    ) -> set[str]:
        return await self._db.write(lambda c: lease_sql.save_progress(c, updates, max_log_entries))

    async def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        now = self._clock.now()
        held, settled = await self._db.write(lambda c: finish.finish_many(c, outcomes, now))
        self._announce(policy.after_finish(outcomes, held), settled)
        return held

    async def requeue(self, leases: Sequence[Lease]) -> int:
        now = self._clock.now()
        states, settled = await self._db.write(lambda c: finish.requeue_many(c, leases, now))
        self._announce(policy.after_requeue(leases, states), settled)
        return states.count("pending")

    # -- management --------------------------------------------------------------------------

    async def sweep(
        self,
        stall_timeout_s: float,
        max_losses: int | policy.LossBounds = policy.MAX_LOSSES,
        spacing_s: float = 0.0,
    ) -> SweepResult:
        now = self._clock.now()
        result, settled = await self._db.write(
            lambda c: maintenance.sweep(c, stall_timeout_s, max_losses, spacing_s, now)
        )
        self._announce(policy.after_sweep(result), settled)
        return result

    async def prune(self, batch_size: int = 1000) -> int:
        now = self._clock.now()
        total = 0
        while True:
            deleted, starts = await self._db.write(
                lambda c: maintenance.prune_batch(c, batch_size, now)
            )
            total += deleted
            if deleted < batch_size and starts < batch_size:
                return total

    async def unregister_worker(self, worker_id: str) -> None:
        await self._db.write(
            lambda c: c.execute("DELETE FROM underway_workers WHERE id = ?", (worker_id,))
        )

    # -- recurring -----------------------------------------------------------------------------

    async def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def add_recurring(self, new: NewRecurring) -> Recurring:
        now = self._clock.now()
        return await self._db.write(lambda c: recurring.add(c, new, now))

    async def sync_recurring(self, declared: Sequence[NewRecurring]) -> None:
        now = self._clock.now()
        await self._db.write(lambda c: recurring.sync_declared(c, list(declared), now))

    async def list_recurring(self) -> list[Recurring]:
        return await self._reader.read(recurring.list_all)

    async def get_recurring(self, recurring_id: str) -> Recurring | None:
        return await self._reader.read(lambda c: recurring.get(c, recurring_id))

    async def set_recurring_enabled(
        self, recurring_id: str, enabled: bool, next_fire_at: datetime
    ) -> Recurring:
        at = next_fire_at.timestamp()
        found = await self._db.write(lambda c: recurring.set_enabled(c, recurring_id, enabled, at))
        if found is None:
            raise RecurringNotFound(recurring_id)
        return found

    async def remove_recurring(self, recurring_id: str) -> bool:
        return await self._db.write(lambda c: recurring.remove(c, recurring_id))

    async def due_recurring(self, now: datetime) -> list[Recurring]:
        return await self._reader.read(lambda c: recurring.due(c, now.timestamp()))

    async def fire_recurring(
        self,
        recurring_id: str,
        expected_next: datetime,
        job: NewJob | None,
        next_fire_at: datetime,
    ) -> EnqueueResult | None:
        now = self._clock.now()
        result = await self._db.write(
            lambda c: recurring.fire(
                c, recurring_id, expected_next.timestamp(), job, next_fire_at.timestamp(), now
            )
        )
        self._announce(policy.after_enqueue([result]))
        return result

    async def enqueue_recurring_run(self, job: NewJob) -> EnqueueResult:
        now = self._clock.now()
        result = await self._db.write(lambda c: recurring.store_run(c, job, now))
        self._announce(policy.NEW_WORK)
        return result

    # -- queries -----------------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        return await self._reader.read(lambda c: reads.get(c, job_id))

    async def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        ids = list(job_ids)
        return await self._reader.read(lambda c: reads.get_many(c, ids))

    async def list_jobs(self, query: JobFilter) -> JobPage:
        return await self._reader.read(lambda c: reads.list_jobs(c, query))

    async def logs(self, job_id: str, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        return await self._reader.read(lambda c: reads.logs(c, job_id, after, limit))

    async def stats(self) -> Stats:
        now = self._clock.now()
        return await self._reader.read(lambda c: reads.stats(c, now))

    async def list_workers(self, stale_after_s: float) -> list[WorkerInfo]:
        now = self._clock.now()
        return await self._reader.read(lambda c: reads.workers(c, now - stale_after_s))

    # -- queues ------------------------------------------------------------------------------

    async def sync_queue_limits(self, declared: Sequence[QueueLimits]) -> None:
        await self._db.write(lambda c: queues.sync_limits(c, declared))

    async def pause_queue(self, name: str, by: str | None = None) -> QueueInfo:
        now = self._clock.now()
        return await self._db.write(lambda c: queues.pause(c, name, by, now))

    async def resume_queue(self, name: str) -> QueueInfo:
        now = self._clock.now()
        found = await self._db.write(lambda c: queues.resume(c, name, now))
        self._announce(policy.NEW_WORK)
        return found

    async def list_queues(self, stale_after_s: float) -> list[QueueInfo]:
        now = self._clock.now()
        return await self._reader.read(lambda c: queues.list_queues(c, now, stale_after_s))

    async def get_queue(self, name: str, stale_after_s: float) -> QueueInfo | None:
        now = self._clock.now()
        return await self._reader.read(lambda c: queues.get_queue(c, name, now, stale_after_s))
