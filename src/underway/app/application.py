"""App: a job registry bound to a database: enqueue, wait, read, manage, recur, run workers."""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import Coroutine, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, Self, TypeVar

from ..backends.base import Backend, Clock
from ..config import WorkerSettings
from ..jobs import JobDefinition
from ..models import (
    CatchUp,
    EnqueueResult,
    Job,
    JobFilter,
    JobPage,
    JobState,
    LogEntry,
    NewJob,
    NewRecurring,
    Overlap,
    Recurring,
    Stats,
    WorkerInfo,
)
from ..worker import Worker
from . import queries
from .enqueueing import Enqueuer, enqueue_request
from .handle import JobHandle
from .job_function import NO_OPTIONS, EnqueueOptions, JobHost
from .recurring_jobs import RecurringJobs
from .registry import JobRef, JobRegistry
from .running_worker import RunningWorker
from .runtime import Runtime
from .storage import Storage

DEFAULT_DATABASE = "sqlite:///underway.db"
R = TypeVar("R")


class App(JobRegistry):
    """A set of jobs bound to one database. Sync methods block; `*_async` twins await.

    The jobs, their cron declarations and the worker hooks are the `JobRegistry` it extends;
    storage, enqueueing and recurring management are small parts it holds and delegates to."""

    def __init__(
        self,
        database: str | None = None,
        *,
        migrate: bool = True,
        create: bool = True,
        clock: Clock | None = None,
    ) -> None:
        """`create=False` refuses to create a missing SQLite file (a worker's choice)."""
        super().__init__()
        url = database or os.environ.get("UNDERWAY_DATABASE_URL") or DEFAULT_DATABASE
        self.runtime = Runtime("app")
        self._storage = Storage(self.runtime, url, migrate=migrate, clock=clock, create=create)
        self._enqueuer = Enqueuer(self._storage)
        self._recurring = RecurringJobs(self._storage, self)
        self._workers: list[RunningWorker] = []

    @property
    def database_url(self) -> str:
        """The database's URL; may be changed until the app first opens it."""
        return self._storage.database_url

    @database_url.setter
    def database_url(self, url: str) -> None:
        self._storage.database_url = url

    @property
    def create(self) -> bool:
        """Whether opening may create a missing SQLite file; may be changed until first use."""
        return self._storage.create

    @create.setter
    def create(self, create: bool) -> None:
        self._storage.create = create

    # -- storage -----------------------------------------------------------------------------

    async def backend(self) -> Backend:
        """The opened backend; runs on the runtime loop."""
        return await self._storage.backend()

    async def now(self) -> datetime:
        """The current time: the injected clock's if the app has one, else the database's."""
        return await self._storage.now()

    def new_backend(self) -> Backend:
        """A separate, unopened connection to the app's database (e.g. for heartbeats)."""
        return self._storage.new_backend()

    def migrate(self) -> list[str]:
        return self.runtime.call(self._storage.call(lambda b: b.migrate()))

    def close(self) -> None:
        """Stop in-process workers and close the database connection."""
        self.runtime.stop(self._shutdown())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _shutdown(self) -> None:
        for worker in list(self._workers):
            await worker.stop_async()
        await self._storage.close()

    # -- enqueueing ----------------------------------------------------------------------------
    # Job objects (`@app.job`'s result) are the typed way in; these by-name methods serve
    # dynamic callers, with the arguments as one mapping and the options as keywords.

    def enqueue(
        self,
        job: JobRef,
        args: Mapping[str, Any] | None = None,
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
        on_duplicate: Literal["raise"] | None = None,
        connection: Any = None,
    ) -> JobHandle[Any]:
        """Validate `args` against the job named `job` and store it; returns its handle."""
        options = EnqueueOptions(
            delay, run_at, priority, queue, idempotency_key, on_duplicate, connection
        )
        return self.enqueue_call(self.definition(job), dict(args or {}), options)

    async def enqueue_async(
        self,
        job: JobRef,
        args: Mapping[str, Any] | None = None,
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
        on_duplicate: Literal["raise"] | None = None,
        connection: Any = None,
    ) -> JobHandle[Any]:
        options = EnqueueOptions(
            delay, run_at, priority, queue, idempotency_key, on_duplicate, connection
        )
        return await self.enqueue_call_async(self.definition(job), dict(args or {}), options)

    def enqueue_many(
        self, job: JobRef, arguments: Iterable[Mapping[str, Any]]
    ) -> builtins.list[JobHandle[Any]]:
        """Validate and store many jobs of one kind in a single transaction."""
        return self.runtime.call(self.enqueue_many_async(job, arguments))

    async def enqueue_many_async(
        self, job: JobRef, arguments: Iterable[Mapping[str, Any]]
    ) -> builtins.list[JobHandle[Any]]:
        results = await self._enqueuer.store_many(self.definition(job), arguments)
        return [self._handle(r) for r in results]

    def run(self, job: JobRef, args: Mapping[str, Any] | None = None) -> Any:
        """Run or join the job named `job`: enqueue with join semantics, wait for the result."""
        return self.runtime.call(self.run_async(job, args))

    async def run_async(self, job: JobRef, args: Mapping[str, Any] | None = None) -> Any:
        definition = self.definition(job)
        handle = await self.enqueue_call_async(
            definition, dict(args or {}), NO_OPTIONS, force_join=True
        )
        return await handle.wait()

    def enqueue_call(
        self, definition: JobDefinition, data: dict[str, Any], options: EnqueueOptions
    ) -> JobHandle[Any]:
        """Store one validated call from a sync caller (job objects enqueue through this)."""
        request = enqueue_request(definition, data, options, force_join=False)
        return self._handle(self._enqueuer.store_blocking(request))

    async def enqueue_call_async(
        self,
        definition: JobDefinition,
        data: dict[str, Any],
        options: EnqueueOptions,
        *,
        force_join: bool = False,
    ) -> JobHandle[Any]:
        request = enqueue_request(definition, data, options, force_join=force_join)
        return self._handle(await self._enqueuer.store(request))

    def run_blocking(self, work: Coroutine[Any, Any, R]) -> R:
        """Run a coroutine on the app's loop from a sync caller."""
        return self.runtime.call(work)

    def job_host(self) -> JobHost:
        return self

    def _handle(self, result: EnqueueResult) -> JobHandle[Any]:
        return JobHandle(self, result, joined=result.joined)

    # -- reading and managing ------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        return self.runtime.call(self.get_async(job_id))

    async def get_async(self, job_id: str) -> Job:
        return await self._storage.call(lambda b: queries.get_job(b, job_id))

    def handle(self, job_id: str) -> JobHandle[Any]:
        """A handle for an existing job id."""
        return JobHandle(self, self.get(job_id))

    def list(
        self,
        state: JobState | str | Iterable[JobState | str] | None = None,
        name: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Job]:
        """Jobs, newest first, filtered by state(s), name and queue."""
        return self.list_page(queries.job_filter(state, name, queue, limit, offset)).jobs

    def list_page(self, query: JobFilter) -> JobPage:
        return self.runtime.call(self.list_page_async(query))

    async def list_page_async(self, query: JobFilter) -> JobPage:
        return await self._storage.call(lambda b: b.list_jobs(query))

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting job now; a running one is told to stop within a second."""
        return self.runtime.call(self.cancel_async(job_id))

    async def cancel_async(self, job_id: str) -> Job:
        return await self._storage.call(lambda b: b.cancel(job_id))

    def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again."""
        return self.runtime.call(self.retry_async(job_id))

    async def retry_async(self, job_id: str) -> Job:
        return await self._storage.call(lambda b: b.retry(job_id))

    def delete(self, job_id: str) -> None:
        """Cancel the job if it is active, then remove it, its result and its logs."""
        self.runtime.call(self.delete_async(job_id))

    async def delete_async(self, job_id: str) -> None:
        await self._storage.call(lambda b: queries.delete_job(b, job_id))

    def stats(self) -> Stats:
        """Counts per state (e.g. how many run now) and recent throughput."""
        return self.runtime.call(self.stats_async())

    async def stats_async(self) -> Stats:
        return await self._storage.call(lambda b: b.stats())

    def logs(self, job_id: str, after: int = 0, limit: int = 1000) -> builtins.list[LogEntry]:
        return self.runtime.call(self.logs_async(job_id, after, limit))

    async def logs_async(
        self, job_id: str, after: int = 0, limit: int = 1000
    ) -> builtins.list[LogEntry]:
        return await self._storage.call(lambda b: b.logs(job_id, after, limit))

    def workers(self, stale_after: float = 60.0) -> builtins.list[WorkerInfo]:
        return self.runtime.call(self.workers_async(stale_after))

    async def workers_async(self, stale_after: float = 60.0) -> builtins.list[WorkerInfo]:
        return await self._storage.call(lambda b: b.list_workers(stale_after))

    async def wait_finished_async(self, job_id: str, timeout: float | None = None) -> Job:
        """Wait until the job is in a finished state and return it."""
        return await self._storage.call(lambda b: queries.wait_finished(b, job_id, timeout))

    # -- recurring jobs ------------------------------------------------------------------------

    def add_recurring(
        self,
        name: str,
        cron: str,
        job: JobRef,
        args: dict[str, Any] | None = None,
        *,
        timezone: str = "UTC",
        enabled: bool = True,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "one",
    ) -> str:
        """Store a recurring job at runtime; returns its id. Bad cron/timezone/args raise."""
        add = self.add_recurring_async(
            name,
            cron,
            job,
            args,
            timezone=timezone,
            enabled=enabled,
            overlap=overlap,
            catch_up=catch_up,
        )
        return self.runtime.call(add)

    async def add_recurring_async(
        self,
        name: str,
        cron: str,
        job: JobRef,
        args: dict[str, Any] | None = None,
        *,
        timezone: str = "UTC",
        enabled: bool = True,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "one",
    ) -> str:
        return await self._recurring.add(
            name,
            cron,
            self.definition(job),
            args,
            timezone=timezone,
            enabled=enabled,
            overlap=overlap,
            catch_up=catch_up,
        )

    def list_recurring(self) -> builtins.list[Recurring]:
        """Every recurring definition with its last run, that run's state and its next run."""
        return self.runtime.call(self.list_recurring_async())

    async def list_recurring_async(self) -> builtins.list[Recurring]:
        return await self._storage.call(lambda b: b.list_recurring())

    def get_recurring(self, recurring_id: str) -> Recurring:
        return self.runtime.call(self.get_recurring_async(recurring_id))

    async def get_recurring_async(self, recurring_id: str) -> Recurring:
        return await self._recurring.get(recurring_id)

    def toggle_recurring(self, recurring_id: str) -> Recurring:
        """Disable an enabled definition or enable a disabled one (from the next tick on)."""
        return self.runtime.call(self.toggle_recurring_async(recurring_id))

    async def toggle_recurring_async(self, recurring_id: str) -> Recurring:
        return await self._recurring.toggle(recurring_id)

    def remove_recurring(self, recurring_id: str) -> None:
        self.runtime.call(self.remove_recurring_async(recurring_id))

    async def remove_recurring_async(self, recurring_id: str) -> None:
        await self._recurring.remove(recurring_id)

    def trigger_recurring(self, recurring_id: str) -> JobHandle[Any]:
        """Run a recurring job now, outside its schedule."""
        return self.runtime.call(self.trigger_recurring_async(recurring_id))

    async def trigger_recurring_async(self, recurring_id: str) -> JobHandle[Any]:
        return JobHandle(self, (await self._recurring.trigger(recurring_id)).job)

    def declared_recurring(self, now: datetime) -> builtins.list[NewRecurring]:
        """Rows for the declarations in code, named after their jobs."""
        return self._recurring.declared_rows(now)

    def recurring_job(self, recurring: Recurring, fire_at: datetime | None) -> NewJob:
        """The job one run of a recurring definition stores."""
        return self._recurring.run_of(recurring, fire_at)

    # -- workers -------------------------------------------------------------------------------

    def start_worker(
        self, settings: WorkerSettings | None = None, **overrides: Any
    ) -> RunningWorker:
        """Run a worker in this process, on the app's loop, until `stop()`."""
        if settings is None:
            settings = WorkerSettings(**overrides)
        return self.runtime.call(self._start_worker(settings))

    async def _start_worker(self, settings: WorkerSettings) -> RunningWorker:
        worker = Worker(self, await self.backend(), settings)
        task = asyncio.create_task(worker.run())
        running = RunningWorker(self.runtime, worker, task, self._workers)
        self._workers.append(running)
        return running
