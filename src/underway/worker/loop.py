"""Worker: claims ready jobs, runs them, and composes its heartbeat, lease, flush and sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ..backends import safe_url
from ..backends.base import Backend
from ..config import WorkerSettings
from ..context import JobContext
from ..errors import StorageUnavailable
from ..faults import crash_point
from ..jobs import JobDefinition
from ..log_throttling import ThrottledLog
from ..models import ClaimedJob, Lease, Outcome, WorkerInfo
from .execution import CANCEL_REQUESTED, JobExecution
from .finish_hooks import run_finish_hooks
from .heartbeat import LeaseWatcher, keep_leases
from .host import Host
from .outcomes import OutcomeWriter, claim_limits
from .pacing import idle_wait
from .periodic import PeriodicService
from .progress import ProgressFlusher
from .runners import JobRunners
from .services import optional_services

log = logging.getLogger("underway.worker")
#: The longest wait between retries while the database cannot be reached (claims, registering
#: the worker, and `underway worker` starting it).
MAX_BACKOFF_S = 30.0
EXIT_STUCK = 75  # EX_TEMPFAIL: restart me


class Worker:
    """One worker process's job loop. `run()` returns after `request_stop()` and a drain."""

    def __init__(self, app: Host, backend: Backend, settings: WorkerSettings) -> None:
        self.app = app
        self.backend = backend
        self.settings = settings
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.queues = settings.queues or app.queues()
        self.started_at = datetime.now(UTC)
        self.resources: Any = None
        self.executor = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="underway-job")
        self.executions: dict[str, JobExecution] = {}
        self._runners = JobRunners(self.execution_ended)
        self.outcomes = OutcomeWriter(backend)
        self.flusher = ProgressFlusher(
            backend,
            settings.flush_interval,
            settings.flush_batch_size,
            settings.max_log_entries,
            self._lose,
        )
        self.lease_watcher = LeaseWatcher(
            backend,
            settings.lease_check_interval,
            self.id,
            self._held_leases,
            self._cancel,
            self._lose,
        )
        self._lease_snapshot: tuple[tuple[Lease, float], ...] = ()
        self._snapshot_due = False
        self.stuck: set[str] = set()
        #: The process exit status the worker asks for (EXIT_STUCK after too many stuck slots).
        self.exit_code = 0
        self.heartbeater, self.self_fence = keep_leases(
            app.new_backend, settings, self.info, self._leases, self._lose
        )
        self._services: list[PeriodicService] = [
            self.flusher,
            self.lease_watcher,
            self.self_fence,
            *optional_services(app, backend, settings),
        ]
        self._claim_batch, self.max_held = claim_limits(
            settings.concurrency, backend.claims_overlap_writes
        )
        self._released = 0
        #: Executions ended so far: a burst ends only if none ended while its last claim ran.
        self._ended = 0
        #: In a burst, the ids of the jobs claimed, in order, for the caller to read back.
        self.claimed: list[str] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._errors = ThrottledLog(log)

    def info(self) -> WorkerInfo:
        return WorkerInfo(
            id=self.id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            queues=tuple(self.queues),
            concurrency=self.settings.concurrency,
            started_at=self.started_at,
            heartbeat_at=datetime.now(UTC),
            running=tuple(lease.job_id for lease, _ in self._lease_snapshot),
        )

    def slot_stuck(self, execution: JobExecution) -> None:
        """A job ignored its timeout or cancel: its slot stays busy until its code returns."""
        self.stuck.add(execution.job.id)
        limit = self.settings.max_stuck_slots
        limit = max(1, self.settings.concurrency // 2) if limit is None else limit
        log.warning(
            "job %s ignores cancellation; its slot stays busy (%d of %d slots stuck)",
            execution.job.id,
            len(self.stuck),
            self.settings.concurrency,
        )
        if len(self.stuck) > limit and not self._stopping.is_set():
            log.error(
                "%d stuck slots (limit %d): draining so the worker can be restarted",
                len(self.stuck),
                limit,
            )
            self.exit_code = EXIT_STUCK
            self.request_stop()

    def slot_freed(self, execution: JobExecution) -> None:
        self.stuck.discard(execution.job.id)

    def request_stop(self) -> None:
        """Stop claiming; running jobs get `shutdown_grace` seconds to finish."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        if not await self._register():
            return
        fields = {
            "worker_id": self.id,
            "queues": list(self.queues),
            "concurrency": self.settings.concurrency,
            "database": safe_url(self.backend.url),
        }
        started = "worker %s started on queues %s, concurrency %d, database %s"
        what = (self.id, ", ".join(self.queues), self.settings.concurrency, fields["database"])
        log.log(self._level, started, *what, extra=fields)
        try:
            async with self.app.lifespan_context() as resources:
                self.resources = resources
                await self._run_services()
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)
            with contextlib.suppress(Exception):
                await self.backend.unregister_worker(self.id)
            log.log(self._level, "worker %s stopped", self.id)

    @property
    def _level(self) -> int:
        """Starts and stops are news for a worker, not for a burst (a drain in a test)."""
        return logging.DEBUG if self.settings.burst else logging.INFO

    async def _register(self) -> bool:
        """Store the queue limits declared in code, then record this worker as alive (so a
        listed worker's limits are in force), retrying while the database cannot be reached
        (a connection killed as the worker starts); False if a stop came first."""
        backoff = self.settings.poll_interval
        while not self._stopping.is_set():
            try:
                await self.backend.sync_queue_limits(self.app.declared_queues())
                await self.backend.heartbeat(self.info(), [])
                return True
            except StorageUnavailable as exc:
                self._errors.error("register", "cannot register the worker, retrying: %s", exc)
                await self._sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
        return False

    async def _run_services(self) -> None:
        self.outcomes.start()
        self.heartbeater.start()
        for service in self._services:
            service.start()
        cancel_listener = self.backend.subscribe("cancel", self._cancel_if_mine)
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            cancel_listener()
            await self._runners.stop()
            for service in self._services:
                await service.stop()
            await self.heartbeater.stop()
            with contextlib.suppress(Exception):
                await self.flusher.tick()
            await self.outcomes.stop()

    async def _claim_loop(self) -> None:
        unsubscribe = self.backend.subscribe("work", lambda _: self._wake.set())
        backoff = self.settings.poll_interval
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                free = self._free_slots()
                if free > 0:
                    claim_began, ended_before = time.monotonic(), self._ended
                    try:
                        jobs = await self.backend.claim(
                            self.id, self.queues, free, self.settings.jobs
                        )
                        if jobs:
                            crash_point("after_claim")
                        backoff = self.settings.poll_interval
                    except StorageUnavailable as exc:
                        self._errors.error("claim", "cannot claim jobs, retrying: %s", exc)
                        await self._sleep(backoff)
                        backoff = min(MAX_BACKOFF_S, backoff * 2)
                        continue
                    late = self.self_fence.fence_after_s
                    if jobs and (took_s := time.monotonic() - claim_began) > late:
                        await self._hand_back(jobs, took_s)
                        continue
                    for job in jobs:
                        self._start(job, claim_began)
                    if self.settings.burst:
                        self.claimed.extend(job.id for job in jobs)
                        # A job that ended during the claim may have made work due that the
                        # claim's snapshot missed (a retry or snooze due now): claim again.
                        # And PostgreSQL's claims skip jobs whose rows another transaction
                        # holds: the burst ends only once a plain read finds none due either.
                        if (
                            not jobs
                            and not self.executions
                            and self._ended == ended_before
                            and not await self._plain_due()
                        ):
                            return  # nothing due, nothing running: the burst is over
                    if len(jobs) == free:
                        continue
                await self._sleep(idle_wait(self.backend, self.settings.poll_interval))
        finally:
            unsubscribe()

    async def _plain_due(self) -> bool:
        """Whether a plain job is due though the claim found none: PostgreSQL's claims skip
        rows another transaction holds or waits on (a heartbeat behind a finish)."""
        try:
            return await self.backend.plain_due(self.queues, self.settings.jobs)
        except StorageUnavailable:
            return True  # the next claim meets the outage, and backs off

    async def _hand_back(self, jobs: list[ClaimedJob], took_s: float) -> None:
        """Give back at once jobs whose claim answered so late (the database was cut off
        meanwhile) that their leases would already be given up here; if that fails too, the
        sweeper finds them."""
        log.warning("a claim answered after %.1f s: handing %d job(s) back", took_s, len(jobs))
        with contextlib.suppress(StorageUnavailable):
            await self.backend.requeue([Lease(job.id, job.attempt, self.id) for job in jobs])

    def _free_slots(self) -> int:
        """How many jobs the next claim may take."""
        held = len(self.executions)
        running = held - self._released
        return min(self.settings.concurrency - running, self.max_held - held, self._claim_batch)

    def slot_released(self, execution: JobExecution) -> None:
        """The job's code returned: its slot is free while its outcome is written."""
        execution.released = True
        self._released += 1
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        """Wait up to `seconds`, ending early on a wake-up (work, a free slot, a stop)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _start(self, job: ClaimedJob, claimed_at: float) -> None:
        execution = JobExecution(job, self, claimed_at)
        self.executions[job.id] = execution
        self._refresh_snapshot_soon()
        self._runners.run(execution)

    def _refresh_snapshot_soon(self) -> None:
        """Rebuild the heartbeat's lease snapshot once the loop's current callbacks have run:
        once per batch of starts and ends, not once per job."""
        if not self._snapshot_due:
            self._snapshot_due = True
            asyncio.get_running_loop().call_soon(self._refresh_snapshot)

    def _refresh_snapshot(self) -> None:
        """The leases the worker holds: not those it has given up, whose code may still run
        (a sync job ignoring its cancel) but whose lease it must no longer renew."""
        self._snapshot_due = False
        self._lease_snapshot = tuple(
            (e.lease, e.claimed_at) for e in self.executions.values() if not e.lost
        )

    def execution_ended(self, execution: JobExecution) -> None:
        """The worker is through with the execution (told by its runner, or by the outcome
        writer for an execution whose runner moved on): its slot is no longer held."""
        job_id = execution.job.id
        if execution.released:
            self._released -= 1
        # A lost attempt may end after the job's next attempt started here: keep the newer one.
        if self.executions.get(job_id) is execution:
            del self.executions[job_id]
        self._ended += 1
        execution.mark_ended()
        self._refresh_snapshot_soon()
        self._wake.set()

    async def _drain(self) -> None:
        """Give running jobs the grace period, then stop them and hand them back to the queue."""
        running = {e.ended() for e in self.executions.values()}
        if running:
            log.info(
                "waiting up to %g s for %d running jobs", self.settings.shutdown_grace, len(running)
            )
            await asyncio.wait(running, timeout=self.settings.shutdown_grace)
        remaining = list(self.executions.values())
        for execution in remaining:
            execution.interrupt()
        if remaining:
            await asyncio.wait({e.ended() for e in remaining}, timeout=1.0)
        stuck = [e for e in remaining if e.job.id in self.executions]
        for execution in stuck:
            log.warning(
                "job %s attempt %d did not stop when asked: handed back to the queue",
                execution.job.id,
                execution.lease.attempt,
            )
            execution.lose()
        if stuck:
            self._refresh_snapshot()  # their leases are no longer renewed, nor fenced
            await self.backend.requeue([e.lease for e in stuck])

    # -- callbacks from executions and services ------------------------------------------------

    def _leases(self) -> tuple[tuple[Lease, float], ...]:
        """The running leases with their claim times; safe to read from the heartbeat thread."""
        return self._lease_snapshot

    def _held_leases(self) -> list[Lease]:
        """The leases held now, not those given up (the lease watcher's, read on the loop)."""
        return [e.lease for e in self.executions.values() if not e.lost]

    def _lose(self, leases: set[Lease]) -> None:
        """Stop the attempts of these leases. One whose outcome is being recorded is left to
        the fenced write: its row may already be finished, which is not a lost lease."""
        for lease in leases:
            execution = self.executions.get(lease.job_id)
            if (
                execution is not None
                and execution.lease == lease
                and not execution.lost
                and not execution.recording
            ):
                log.warning(
                    "job %s attempt %d: lease lost (cancelled, deleted or taken over)",
                    lease.job_id,
                    lease.attempt,
                )
                execution.lose()
                self._refresh_snapshot_soon()

    def _cancel(self, job_id: str) -> None:
        execution = self.executions.get(job_id)
        if execution is not None and not execution.ctx.cancelled:
            execution.cancel(CANCEL_REQUESTED)

    def _cancel_if_mine(self, job_id: str) -> None:
        if job_id in self.executions:
            self.lease_watcher.wake()

    async def requeue(self, lease: Lease) -> None:
        await self.backend.requeue([lease])

    def job_scope(self, ctx: JobContext) -> contextlib.AbstractAsyncContextManager[Any] | None:
        return self.app.job_scope_context(ctx, self.executions[ctx.job_id].job)

    async def after_finish(self, definition: JobDefinition | None, outcome: Outcome) -> None:
        await run_finish_hooks(self.app, self.backend, definition, outcome)
