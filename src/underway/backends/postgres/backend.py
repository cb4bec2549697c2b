"""The PostgreSQL backend: workers on many machines, SKIP LOCKED claims, LISTEN/NOTIFY wake-ups.

URL: ``postgresql://user:password@host:5432/dbname?schema=underway``. The optional ``schema``
parameter (default ``underway``) names the schema that holds underway's tables, so they can
live beside an application's own; it is removed before the URL is handed to libpq, and every
other parameter (``sslmode=``, ``connect_timeout=``...) is passed through.

Transactional enqueue: ``app.enqueue(fn, ..., connection=conn)`` with a sync psycopg
connection, or ``await app.enqueue_async(fn, ..., connection=aconn)`` with an async one (from
the loop that owns it), stores the job inside the caller's own transaction through
`enqueue_on`: the job exists only if that transaction commits.

The sync ``app.enqueue`` stores a plain job on a blocking pool (role ``producer``), no hop.

Times come from the database's ``now()`` (a claim's held rate keys are pruned by this host's
clock). Connections set ``application_name`` to ``underway:<role>:<pid>``. Connection
failures surface as `StorageUnavailable`; the pool and the listener reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

import psycopg
from psycopg.pq import TransactionStatus

from ...errors import ConfigurationError, RecurringNotFound, StorageUnavailable
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
    Recurring,
    Stats,
    SweepResult,
    WorkerInfo,
)
from .. import lookup_batches, policy
from ..base import Unsubscribe
from ..notifier import LocalNotifier
from ..policy import Wakeups
from . import claim, claim_lock, finish, maintenance, manage, migrate, reads, recurring
from . import leases as lease_sql
from .blockers import PostgresBlockers
from .connection import BlockingPool, PostgresPool, parse_postgres_url
from .dependencies import merged
from .enqueue import enqueue_one, enqueue_plain
from .history_reads import PostgresHistory
from .lookup_batch import enqueue_looked_up
from .queues import PostgresQueues
from .tx import AsyncTx, SyncTx, Tx
from .values import NUL, refused
from .wakeups import PostgresListener, send_wakeups
from .workflows import PostgresWorkflows

IDLE = TransactionStatus.IDLE


class PostgresBackend(
    PostgresQueues, PostgresBlockers, PostgresWorkflows, PostgresHistory, manage.PostgresManage
):
    """Backend on PostgreSQL via a psycopg 3 async pool, used from one event loop."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        min_connections: int = 1,
        max_connections: int = 5,
        connect_timeout_s: float = 5.0,
        listen: bool = True,
    ) -> None:
        self.url = url
        self.claims_overlap_writes = True
        self._claims = claim_lock.ClaimMemory()
        self._listen = listen
        self.target = parse_postgres_url(url)
        self.schema = self.target.schema
        self._migrate_on_open = migrate
        self._pool = PostgresPool(
            self.target,
            min_size=min_connections,
            max_size=max_connections,
            timeout_s=connect_timeout_s,
        )
        self._blocking = BlockingPool(
            self.target, max_size=max_connections, timeout_s=connect_timeout_s
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._notifier = LocalNotifier()
        self._listener = PostgresListener(self.target, self._notifier)

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._pool.open()
        if self._migrate_on_open:
            try:
                await self.migrate()
            except BaseException:
                await self._pool.close()
                raise
        if self._listen:
            self._listener.start()

    async def close(self) -> None:
        await self._listener.stop()
        await self._pool.close()
        await self._blocking.close_async()

    async def migrate(self) -> list[str]:
        return await self._pool.transaction(migrate.apply_migrations)

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Unsubscribe:
        return self._notifier.subscribe(channel, callback)

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up (notifications from other processes arrive)."""
        return self._listener.connected.is_set()

    # -- enqueue ---------------------------------------------------------------------------

    async def enqueue(self, job: NewJob) -> EnqueueResult:
        return (await self.enqueue_many([job]))[0]

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        async def store(tx: Tx, stored: dict[str, EnqueueResult] | None) -> list[EnqueueResult]:
            if stored is None:  # the plain jobs are not inserted yet
                plain = [job for job in jobs if job.plain]
                stored = await enqueue_plain(tx, plain) if plain else {}
            rest = [job for job in jobs if job.id not in stored]
            if lookup_batches.batchable(rest):
                resolved = await enqueue_looked_up(tx, rest)
                if resolved is not None:
                    by_request = zip((job.id for job in rest), resolved, strict=True)
                    stored = {**stored, **dict(by_request)}
            return [stored.get(job.id) or await enqueue_one(tx, job) for job in jobs]

        try:
            stored: dict[str, EnqueueResult] | None = None
            if jobs and all(job.plain for job in jobs):
                # One statement, committed alone; only ids already taken need the general path.
                stored = await self._pool.statement(lambda tx: enqueue_plain(tx, jobs))
            if stored is not None and len(stored) == len(jobs):
                results = [stored[job.id] for job in jobs]
            else:
                results = await self._pool.transaction(lambda tx: store(tx, stored))
        except psycopg.DataError as exc:
            raise refused(jobs[0].name if jobs else "?", exc) from None
        self._notifier.announce(policy.after_enqueue(results))
        return results

    def enqueue_blocking(self, job: NewJob) -> EnqueueResult | None:
        """Store a plain job from the caller's own thread, in one autocommitted statement on a
        blocking connection: no hop to the backend's loop. None if the job is not plain or its
        id is taken (a retried call): `enqueue` then decides."""
        if not job.plain:
            return None
        try:
            stored = self._blocking.statement(lambda tx: enqueue_plain(tx, [job]))
        except psycopg.DataError as exc:
            raise refused(job.name, exc) from None
        result = stored.get(job.id)
        if policy.after_enqueue([result]).work:
            # In-process workers hear of it at once; others through NOTIFY.
            self._notifier.notify_from_thread(self._loop, "work")
        return result

    async def enqueue_on(self, connection: object, job: NewJob) -> EnqueueResult:
        """Store a job inside the caller's open transaction on their own psycopg connection.

        The job exists only if that transaction commits; workers hear of it at commit (NOTIFY).
        """
        try:
            if isinstance(connection, psycopg.AsyncConnection):
                tx: Tx = AsyncTx(connection, self.schema)
            elif isinstance(connection, psycopg.Connection):
                tx = SyncTx(connection, self.schema)
            else:
                raise ConfigurationError("connection= must be a psycopg 3 connection")
            if not connection.autocommit and connection.info.transaction_status == IDLE:
                # The first statement opens the caller's transaction; they commit or roll back.
                return await enqueue_one(tx, job)
            async with tx.savepoint():
                return await enqueue_one(tx, job)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StorageUnavailable(f"PostgreSQL is unavailable: {exc}") from exc

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
        return await claim.claim_ready(self._pool, self._claims, worker_id, [*queues], limit, only)

    def next_slot_in(self) -> float | None:
        return self._claims.next_slot_in()

    async def heartbeat(
        self, worker: WorkerInfo, leases: Sequence[Lease], *, max_age_s: float | None = None
    ) -> set[str]:
        return await self._pool.transaction(
            lambda tx: lease_sql.heartbeat(tx, worker, leases, max_age_s)
        )

    async def running_leases(self, worker_id: str) -> dict[str, tuple[int, bool]]:
        return await self._pool.transaction(lambda tx: reads.running_leases(tx, worker_id))

    async def save_progress(
        self, updates: Sequence[ProgressUpdate], max_log_entries: int
    ) -> set[str]:
        async def save(tx: Tx) -> set[str]:
            return {
                update.lease.job_id
                for update in updates
                if not await lease_sql.save_progress(tx, update, max_log_entries)
            }

        return await self._pool.transaction(save)

    async def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        # The statements send their own notifications.
        leases, settled = await finish.finish_many(self._pool, outcomes, self._claims.awaited)
        held = [(o.lease.job_id, o.lease.attempt) in leases for o in outcomes]
        self._notifier.announce(merged(policy.after_finish(outcomes, held), settled))
        return held

    async def requeue(self, leases: Sequence[Lease]) -> int:
        async def give_back(tx: Tx) -> tuple[list[str], Wakeups]:
            states, settled = await finish.requeue_many(tx, leases)
            told = await send_wakeups(tx, policy.after_requeue(leases, states))
            return states, merged(told, settled)

        states, wakeups = await self._pool.transaction(give_back)
        self._notifier.announce(wakeups)
        return states.count("pending")

    # -- management --------------------------------------------------------------------------

    async def sweep(
        self,
        stall_timeout_s: float,
        max_losses: int | policy.LossBounds = policy.MAX_LOSSES,
        spacing_s: float = 0.0,
    ) -> SweepResult:
        async def sweep(tx: Tx) -> tuple[SweepResult, Wakeups]:
            result, settled = await maintenance.sweep(tx, stall_timeout_s, max_losses, spacing_s)
            return result, merged(await send_wakeups(tx, policy.after_sweep(result)), settled)

        result, wakeups = await self._pool.transaction(sweep)
        self._notifier.announce(wakeups)
        return result

    async def prune(self, batch_size: int = 1000) -> int:
        total = 0
        while True:
            deleted, starts = await self._pool.transaction(
                lambda tx: maintenance.prune_batch(tx, batch_size)
            )
            total += deleted
            if deleted < batch_size and starts < batch_size:
                return total

    async def unregister_worker(self, worker_id: str) -> None:
        await self._pool.transaction(
            lambda tx: tx.run("DELETE FROM {schema}.workers WHERE id = %s", (worker_id,))
        )

    # -- recurring -----------------------------------------------------------------------------

    async def now(self) -> datetime:
        row = await self._pool.transaction(lambda tx: tx.row("SELECT now() AS now"))
        assert row is not None
        moment: datetime = row["now"]
        return moment

    async def add_recurring(self, new: NewRecurring) -> Recurring:
        return await self._pool.transaction(lambda tx: recurring.add(tx, new))

    async def sync_recurring(self, declared: Sequence[NewRecurring]) -> None:
        await self._pool.transaction(lambda tx: recurring.sync_declared(tx, list(declared)))

    async def list_recurring(self) -> list[Recurring]:
        return await self._pool.transaction(recurring.list_all)

    async def get_recurring(self, recurring_id: str) -> Recurring | None:
        if NUL in recurring_id:
            return None
        return await self._pool.transaction(lambda tx: recurring.get(tx, recurring_id))

    async def set_recurring_enabled(
        self, recurring_id: str, enabled: bool, next_fire_at: datetime
    ) -> Recurring:
        found = None
        if NUL not in recurring_id:
            found = await self._pool.transaction(
                lambda tx: recurring.set_enabled(tx, recurring_id, enabled, next_fire_at)
            )
        if found is None:
            raise RecurringNotFound(recurring_id)
        return found

    async def remove_recurring(self, recurring_id: str) -> bool:
        if NUL in recurring_id:
            return False
        return await self._pool.transaction(lambda tx: recurring.remove(tx, recurring_id))

    async def due_recurring(self, now: datetime) -> list[Recurring]:
        return await self._pool.transaction(lambda tx: recurring.due(tx, now))

    async def fire_recurring(
        self,
        recurring_id: str,
        expected_next: datetime,
        job: NewJob | None,
        next_fire_at: datetime,
    ) -> EnqueueResult | None:
        result = await self._pool.transaction(
            lambda tx: recurring.fire(tx, recurring_id, expected_next, job, next_fire_at)
        )
        self._notifier.announce(policy.after_enqueue([result]))
        return result

    async def enqueue_recurring_run(self, job: NewJob) -> EnqueueResult:
        result = await self._pool.transaction(lambda tx: recurring.store_run(tx, job))
        self._notifier.announce(policy.NEW_WORK)
        return result

    # -- queries -----------------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        if NUL in job_id:
            return None
        return await self._pool.transaction(lambda tx: reads.get(tx, job_id))

    async def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        ids = [job_id for job_id in job_ids if NUL not in job_id]
        return await self._pool.transaction(lambda tx: reads.get_many(tx, ids))

    async def list_jobs(self, query: JobFilter) -> JobPage:
        return await self._pool.transaction(lambda tx: reads.list_jobs(tx, query))

    async def logs(self, job_id: str, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        if NUL in job_id:
            return []
        return await self._pool.transaction(lambda tx: reads.logs(tx, job_id, after, limit))

    async def stats(self) -> Stats:
        return await self._pool.transaction(reads.stats)

    async def list_workers(self, stale_after_s: float) -> list[WorkerInfo]:
        return await self._pool.transaction(lambda tx: reads.workers(tx, stale_after_s))
