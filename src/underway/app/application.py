"""App: a job registry bound to a database: enqueue, wait, read, manage, recur, run workers."""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import Coroutine, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, Self, TypeVar

from ..backends import pinned_url
from ..backends.base import Backend, Clock
from ..config import WorkerSettings
from ..errors import ConfigurationError
from ..jobs import JobDefinition
from ..models import (
    CatchUp,
    EnqueueResult,
    Job,
    NewJob,
    NewRecurring,
    Overlap,
    Recurring,
)
from ..worker import Worker
from .draining import DrainSettings, drain_app, names
from .enqueue_options import NO_OPTIONS, EnqueueOptions
from .enqueue_scopes import enqueue_scope
from .enqueueing import Enqueuer, amended_rows, enqueue_request
from .explaining import JobExplanations
from .handle import JobHandle
from .history import AppHistory
from .job_function import JobFunction, JobHost
from .job_reads import JobReads
from .recurring_jobs import RecurringJobs
from .registry import JobRef
from .running_worker import RunningWorker, stop_within
from .runtime import Runtime
from .storage import Storage
from .webhook_delivery import WebhookControls
from .workflow_controls import WorkflowControls

DEFAULT_DATABASE = "sqlite:///underway.db"
R = TypeVar("R")


class App(JobReads, JobExplanations, AppHistory, WorkflowControls, WebhookControls):
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
        inline: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        """`create=False` refuses to create a missing SQLite file (a worker's choice).
        `inline=True` (for tests) runs each enqueued job at once, in this process, through
        the same validation, storage and JSON round trip as a worker would. `webhook_secret`
        signs webhook deliveries; `webhook_url` is every job's webhook (see `app.webhooks`)."""
        super().__init__()
        self.inline = inline
        self._draining = False
        url = database or os.environ.get("UNDERWAY_DATABASE_URL") or DEFAULT_DATABASE
        self.runtime = Runtime("app")
        self._storage = Storage(self.runtime, url, migrate=migrate, clock=clock, create=create)
        self._enqueuer = Enqueuer(self._storage, self.deliveries_for, self.enqueue_scopes)
        if webhook_secret is not None or webhook_url is not None:
            self.webhooks(webhook_url, secret=webhook_secret or "")
        self._recurring = RecurringJobs(self._storage, self, self._enqueuer.prepared)
        self._workers: list[RunningWorker] = []

    @property
    def database_url(self) -> str:
        """The database's URL; may be changed until the app first opens it."""
        return self._storage.database_url

    @database_url.setter
    def database_url(self, url: str) -> None:
        if self._storage.opened is not None and pinned_url(url) != self._storage.database_url:
            raise ConfigurationError(
                "this app has already opened its database; call app.use_database(url) to "
                "close it and use another"
            )
        self._storage.database_url = url

    def use_database(self, url: str, *, clock: Clock | None = None) -> None:
        """Close the app's database and use `url` (and `clock`) from the next call on; no
        in-process worker may be running. Tests use it to give each test a fresh database."""
        if self._workers:
            raise ConfigurationError("stop the app's workers before it changes database")
        self.runtime.call(self._storage.close())
        self._storage.database_url = url
        self._storage.clock = clock

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
        """Stop in-process workers (each within its shutdown grace), close the database."""
        self.runtime.stop(self._shutdown(), timeout_s=stop_within(self._workers))

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
        return self.runtime.call(self._store_many(self._new_rows(job, arguments)))

    async def enqueue_many_async(
        self, job: JobRef, arguments: Iterable[Mapping[str, Any]]
    ) -> builtins.list[JobHandle[Any]]:
        return await self._store_many(self._new_rows(job, arguments))

    def _new_rows(
        self, job: JobRef, arguments: Iterable[Mapping[str, Any]]
    ) -> builtins.list[NewJob]:
        """The validated rows of many calls, amended by the integrations' enqueue scopes in the
        caller's own thread and context."""
        return amended_rows(self.enqueue_scopes, self.definition(job).new_jobs(arguments))

    async def _store_many(self, rows: builtins.list[NewJob]) -> builtins.list[JobHandle[Any]]:
        results = await self._enqueuer.store_many(rows)
        if self.inline and not self._draining:
            await self.runtime.call_async(self._drain_inline())
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
        with enqueue_scope(self.enqueue_scopes, request) as request:
            handle = self._handle(self._enqueuer.store_blocking(request))
        if self.inline and not self._draining:
            self.runtime.call(self._drain_inline())
            handle.refresh()
        return handle

    async def enqueue_call_async(
        self,
        definition: JobDefinition,
        data: dict[str, Any],
        options: EnqueueOptions,
        *,
        force_join: bool = False,
    ) -> JobHandle[Any]:
        request = enqueue_request(definition, data, options, force_join=force_join)
        with enqueue_scope(self.enqueue_scopes, request) as request:
            handle = self._handle(await self._enqueuer.store(request))
        if self.inline and not self._draining:
            await self.runtime.call_async(self._drain_inline())
            await handle.refresh_async()
        return handle

    async def drain_async(
        self,
        *,
        concurrency: int = 10,
        queues: Iterable[str] | str | None = None,
        jobs: Iterable[JobRef] | JobRef | None = None,
    ) -> builtins.list[Job]:
        """Run every due job in this process until none is due; see `underway.testing.drain`."""
        only = None if jobs is None else self._job_names(jobs)
        settings = DrainSettings(concurrency, names(queues), only)
        return await self.runtime.call_async(self._drain(settings))

    def _job_names(self, jobs: Iterable[JobRef] | JobRef) -> tuple[str, ...]:
        """The registered names of jobs given by name or as job objects (unknown ones refused)."""
        given = (jobs,) if isinstance(jobs, str | JobFunction) else tuple(jobs)
        return tuple(self.definition(job).name for job in given)

    async def _drain(self, settings: DrainSettings) -> builtins.list[Job]:
        if self._draining:
            raise ConfigurationError("a drain is already running on this app")
        self._draining = True
        try:
            return await drain_app(self, settings)
        finally:
            self._draining = False

    async def _drain_inline(self) -> None:
        await self._drain(DrainSettings())

    @property
    def running_workers(self) -> builtins.list[RunningWorker]:
        """The workers started in this process with `start_worker` and not yet stopped."""
        return builtins.list(self._workers)

    def run_blocking(self, work: Coroutine[Any, Any, R]) -> R:
        """Run a coroutine on the app's loop from a sync caller."""
        return self.runtime.call(work)

    def job_host(self) -> JobHost:
        return self

    def _handle(self, result: EnqueueResult) -> JobHandle[Any]:
        return JobHandle(self, result, joined=result.joined)

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
