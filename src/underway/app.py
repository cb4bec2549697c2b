"""App: the job registry and what callers do with jobs: enqueue, wait, manage, run workers."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, overload

from .app_recurring import RecurringDeclaration, RecurringMixin, bad_cron_option, cron_schedule
from .backends import open_backend
from .backends.base import Backend, Clock
from .config import WorkerSettings
from .context import JobContext
from .errors import (
    ConfigurationError,
    DuplicateJobError,
    JobNotFound,
    UnknownJobError,
    WaitTimeout,
)
from .handle import JobHandle
from .jobs import (
    DEFAULT_BACKOFF,
    DEFAULT_RETENTION,
    RESERVED_OPTION_NAMES,
    Backoff,
    ConcurrencyKey,
    Hook,
    JobDefinition,
    JobOptions,
    seconds,
)
from .models import (
    CatchUp,
    EnqueueResult,
    Job,
    JobFilter,
    JobPage,
    JobState,
    LogEntry,
    NewJob,
    Overlap,
    Stats,
    UniqueMode,
    WorkerInfo,
)
from .recurring import Schedule
from .resources import nothing, open_context
from .runtime import Runtime
from .worker import Worker

DEFAULT_DATABASE = "sqlite:///underway.db"
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
JobRef = Callable[..., Any] | str


CRON_OPTIONS = ("timezone", "cron_args", "overlap", "catch_up")


class App(RecurringMixin):
    """A set of jobs bound to one database. Sync methods block; `*_async` twins await."""

    def __init__(
        self, database: str | None = None, *, migrate: bool = True, clock: Clock | None = None
    ) -> None:
        self.database_url = database or os.environ.get("UNDERWAY_DATABASE_URL") or DEFAULT_DATABASE
        self.registry: dict[str, JobDefinition] = {}
        self.runtime = Runtime("app")
        self._by_function: dict[Callable[..., Any], JobDefinition] = {}
        self._migrate = migrate
        self._clock = clock
        self._backend: Backend | None = None
        self._opening: asyncio.Lock | None = None
        self._lifespan: Callable[..., Any] | None = None
        self._job_scope: Callable[..., Any] | None = None
        self._finished_hooks: list[Hook] = []
        self._workers: list[RunningWorker] = []
        self._declared: dict[str, RecurringDeclaration] = {}
        #: Turns (cron, timezone) into ticks; tests may swap in a faster tick source.
        self.schedule_for: Callable[[str, str], Schedule] = cron_schedule

    # -- declaring jobs --------------------------------------------------------------------

    @overload
    def job(self, fn: F, /) -> F: ...

    @overload
    def job(
        self,
        /,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int = 0,
        retries: int = 0,
        backoff: Backoff | Callable[[int], float] = DEFAULT_BACKOFF,
        timeout: float | timedelta | None = None,
        retention: float | timedelta = DEFAULT_RETENTION,
        unique: UniqueMode | None = None,
        unique_for: float | timedelta | None = None,
        unique_by: Iterable[str] | None = None,
        concurrency: int | None = None,
        concurrency_key: ConcurrencyKey | None = None,
        on_success: Hook | None = None,
        on_failure: Hook | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        cron_args: dict[str, Any] | None = None,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "one",
    ) -> Callable[[F], F]: ...

    def job(self, fn: Any = None, /, **options: Any) -> Any:
        """Register a function as a job; usable bare (`@app.job`) or with options."""
        if fn is not None:
            return self._register(fn, options)
        return lambda f: self._register(f, options)

    def _register(self, fn: F, options: dict[str, Any]) -> F:
        name = options.pop("name", None) or fn.__name__
        if name in self.registry:
            raise ConfigurationError(f"a job named {name!r} is already registered")
        unique_by = options.pop("unique_by", None)
        cron = options.pop("cron", None)
        cron_options = {k: options.pop(k) for k in CRON_OPTIONS if k in options}
        if cron is None and cron_options:
            raise bad_cron_option(next(iter(cron_options)))
        definition = JobDefinition(
            fn,
            JobOptions(
                name=name,
                timeout=seconds(options.pop("timeout", None), "timeout"),
                retention=seconds(options.pop("retention", DEFAULT_RETENTION), "retention") or 0.0,
                unique_for=seconds(options.pop("unique_for", None), "unique_for"),
                unique_by=None if unique_by is None else tuple(unique_by),
                **options,
            ),
        )
        if cron is not None:
            self.declare_recurring(definition, cron, cron_options)
        self.registry[name] = definition
        self._by_function[fn] = definition
        return fn

    def lifespan(self, fn: F) -> F:
        """Register a per-worker-process resource context; what it yields is `ctx.resources`."""
        self._lifespan = fn
        return fn

    def job_scope(self, fn: F) -> F:
        """Register a per-run context; what it yields is `ctx.scope`, closed after each run."""
        self._job_scope = fn
        return fn

    def on_finished(self, fn: F) -> F:
        """Register a hook called with the Job after any job completes, fails or is cancelled."""
        self._finished_hooks.append(fn)
        return fn

    def definition(self, job: JobRef) -> JobDefinition:
        found = self.registry.get(job) if isinstance(job, str) else self._by_function.get(job)
        if found is None:
            raise UnknownJobError(job if isinstance(job, str) else getattr(job, "__name__", "?"))
        return found

    def queues(self) -> tuple[str, ...]:
        return tuple(sorted({"default", *(d.options.queue for d in self.registry.values())}))

    # -- storage -----------------------------------------------------------------------------

    async def backend(self) -> Backend:
        """The opened backend; runs on the runtime loop."""
        if self._backend is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._backend is None:
                    backend = open_backend(self.database_url, self._clock, migrate=self._migrate)
                    await backend.open()
                    self._backend = backend
        return self._backend

    async def now(self) -> datetime:
        """The current time: the injected clock's if the app has one, else the database's."""
        if self._clock is not None:
            return datetime.fromtimestamp(self._clock.now(), UTC)
        return await (await self.backend()).now()

    def new_backend(self) -> Backend:
        """A separate, unopened connection to the app's database (e.g. for heartbeats)."""
        return open_backend(self.database_url, self._clock, migrate=False, lean=True)

    async def _call(self, fn: Callable[[Backend], Coroutine[Any, Any, R]]) -> R:
        async def on_runtime() -> R:
            return await fn(await self.backend())

        return await self.runtime.call_async(on_runtime())

    def migrate(self) -> list[str]:
        return self.runtime.call(self._call(lambda b: b.migrate()))

    def close(self) -> None:
        """Stop in-process workers and close the database connection."""
        self.runtime.stop(self._shutdown())

    async def _shutdown(self) -> None:
        for worker in list(self._workers):
            await worker.stop_async()
        if self._backend is not None:
            await self._backend.close()
            self._backend = None

    # -- enqueueing ----------------------------------------------------------------------------

    @overload
    def enqueue(
        self, job: Callable[..., Coroutine[Any, Any, R]], /, *args: Any, **kwargs: Any
    ) -> JobHandle[R]: ...

    @overload
    def enqueue(self, job: Callable[..., R], /, *args: Any, **kwargs: Any) -> JobHandle[R]: ...

    @overload
    def enqueue(self, job: str, /, *args: Any, **kwargs: Any) -> JobHandle[Any]: ...

    def enqueue(self, job: JobRef, /, *args: Any, **kwargs: Any) -> JobHandle[Any]:
        """Validate the arguments and store the job; returns its handle at once."""
        request = self._enqueue_request(job, args, kwargs, force_join=False)
        if request.connection is None and not self.runtime.in_loop_thread():
            # A plain job is stored from this thread where the backend can: no loop hop.
            backend = self._backend or self.runtime.call(self.backend())
            result = backend.enqueue_blocking(request.new)
            if result is not None:
                return self._handle(request, result)
        return self.runtime.call(self._store(request))

    async def enqueue_async(self, job: JobRef, /, *args: Any, **kwargs: Any) -> JobHandle[Any]:
        return await self._enqueue(job, args, kwargs, force_join=False)

    def schedule(self, job: JobRef, /, *args: Any, **kwargs: Any) -> JobHandle[Any]:
        """Enqueue to run later: give `run_at=` (a datetime) or `delay=` (seconds or timedelta)."""
        _check_schedule(kwargs)
        return self.enqueue(job, *args, **kwargs)

    async def schedule_async(self, job: JobRef, /, *args: Any, **kwargs: Any) -> JobHandle[Any]:
        _check_schedule(kwargs)
        return await self.enqueue_async(job, *args, **kwargs)

    def enqueue_many(
        self, job: JobRef, arguments: Iterable[dict[str, Any]]
    ) -> list[JobHandle[Any]]:
        """Validate and store many jobs of one kind in a single transaction."""
        return self.runtime.call(self.enqueue_many_async(job, arguments))

    async def enqueue_many_async(
        self, job: JobRef, arguments: Iterable[dict[str, Any]]
    ) -> list[JobHandle[Any]]:
        definition = self.definition(job)
        rows = definition.new_jobs(arguments)
        results = await self._call(lambda b: b.enqueue_many(rows))
        return [JobHandle(self, r, joined=r.joined) for r in results]

    def run(self, job: JobRef, /, *args: Any, **kwargs: Any) -> Any:
        """Run or join: enqueue with join semantics and block until the result is there."""
        return self.runtime.call(self.run_async(job, *args, **kwargs))

    async def run_async(self, job: JobRef, /, *args: Any, **kwargs: Any) -> Any:
        handle = await self._enqueue(job, args, kwargs, force_join=True)
        return await handle.wait()

    async def _enqueue(
        self, job: JobRef, args: tuple[Any, ...], kwargs: dict[str, Any], *, force_join: bool
    ) -> JobHandle[Any]:
        return await self._store(self._enqueue_request(job, args, kwargs, force_join=force_join))

    def _enqueue_request(
        self, job: JobRef, args: tuple[Any, ...], kwargs: dict[str, Any], *, force_join: bool
    ) -> _EnqueueRequest:
        """Validate a call and build the row to store (raises before anything is stored)."""
        definition = self.definition(job)
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in RESERVED_OPTION_NAMES}
        on_duplicate = options.pop("on_duplicate", None)
        if on_duplicate not in (None, "raise"):
            raise ConfigurationError("on_duplicate must be None or 'raise'")
        connection = options.pop("connection", None)
        new = definition.new_job(
            definition.bind(args, kwargs),
            delay=seconds(options.get("delay"), "delay") or 0.0,
            run_at=_aware(options.get("run_at")),
            priority=options.get("priority"),
            queue=options.get("queue"),
            idempotency_key=options.get("idempotency_key"),
            record_skipped=on_duplicate is None,
            force_join=force_join,
        )
        return _EnqueueRequest(definition.name, new, connection, on_duplicate == "raise")

    async def _store(self, request: _EnqueueRequest) -> JobHandle[Any]:
        new = request.new
        if request.connection is None:
            result = await self._call(lambda b: b.enqueue(new))
        else:
            result = await self._enqueue_on(request.connection, new)
        return self._handle(request, result)

    def _handle(self, request: _EnqueueRequest, result: EnqueueResult) -> JobHandle[Any]:
        if request.raise_on_duplicate and (result.joined or result.skipped):
            active = result.job.duplicate_of or result.id
            raise DuplicateJobError(request.name, active)
        return JobHandle(self, result, joined=result.joined)

    async def _enqueue_on(self, connection: Any, new: NewJob) -> EnqueueResult:
        """Transactional enqueue on the caller's psycopg connection, in the caller's thread/loop."""
        backend = await self._call(_opened)
        enqueue_on = getattr(backend, "enqueue_on", None)
        if enqueue_on is None:
            raise ConfigurationError("enqueue(connection=...) needs the PostgreSQL backend")
        result: EnqueueResult = await enqueue_on(connection, new)
        return result

    # -- reading and managing ------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        return self.runtime.call(self.get_async(job_id))

    async def get_async(self, job_id: str) -> Job:
        job = await self._call(lambda b: b.get(job_id))
        if job is None:
            raise JobNotFound(job_id)
        return job

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
        return self.list_page(_job_filter(state, name, queue, limit, offset)).jobs

    def list_page(self, query: JobFilter) -> JobPage:
        return self.runtime.call(self.list_page_async(query))

    async def list_page_async(self, query: JobFilter) -> JobPage:
        return await self._call(lambda b: b.list_jobs(query))

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting job now; a running one is told to stop within a second."""
        return self.runtime.call(self.cancel_async(job_id))

    async def cancel_async(self, job_id: str) -> Job:
        return await self._call(lambda b: b.cancel(job_id))

    def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again."""
        return self.runtime.call(self.retry_async(job_id))

    async def retry_async(self, job_id: str) -> Job:
        return await self._call(lambda b: b.retry(job_id))

    def delete(self, job_id: str) -> None:
        """Cancel the job if it is active, then remove it, its result and its logs."""
        self.runtime.call(self.delete_async(job_id))

    async def delete_async(self, job_id: str) -> None:
        job = await self.get_async(job_id)
        if job.state.is_active:
            with contextlib.suppress(Exception):
                await self.cancel_async(job_id)
        if not await self._call(lambda b: b.delete(job_id)):
            raise JobNotFound(job_id)

    def stats(self) -> Stats:
        """Counts per state (e.g. how many run now) and recent throughput."""
        return self.runtime.call(self.stats_async())

    async def stats_async(self) -> Stats:
        return await self._call(lambda b: b.stats())

    def logs(self, job_id: str, after: int = 0, limit: int = 1000) -> builtins.list[LogEntry]:
        return self.runtime.call(self._call(lambda b: b.logs(job_id, after, limit)))

    async def logs_async(
        self, job_id: str, after: int = 0, limit: int = 1000
    ) -> builtins.list[LogEntry]:
        return await self._call(lambda b: b.logs(job_id, after, limit))

    def workers(self, stale_after: float = 60.0) -> builtins.list[WorkerInfo]:
        return self.runtime.call(self.workers_async(stale_after))

    async def workers_async(self, stale_after: float = 60.0) -> builtins.list[WorkerInfo]:
        return await self._call(lambda b: b.list_workers(stale_after))

    # -- waiting -------------------------------------------------------------------------------

    async def wait_finished_async(self, job_id: str, timeout: float | None = None) -> Job:
        """Wait until the job is in a finished state and return it."""
        return await self.runtime.call_async(self._wait_finished(job_id, timeout))

    async def _wait_finished(self, job_id: str, timeout: float | None) -> Job:
        backend = await self.backend()
        changed = asyncio.Event()
        unsubscribe = backend.subscribe(
            "finished", lambda finished: changed.set() if finished == job_id else None
        )
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = 0.01
        try:
            while True:
                changed.clear()
                job = await backend.get(job_id)
                if job is None:
                    raise JobNotFound(job_id)
                if job.state.is_finished:
                    return job
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    raise WaitTimeout(job_id, timeout or 0.0, job.state.value)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(delay, remaining or delay))
                delay = min(delay * 1.5, 0.25)
        finally:
            unsubscribe()

    def load_result(self, name: str, data: Any) -> Any:
        definition = self.registry.get(name)
        return data if definition is None else definition.load_result(data)

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
        running = RunningWorker(self, worker, asyncio.create_task(worker.run()))
        self._workers.append(running)
        return running

    def lifespan_context(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return nothing() if self._lifespan is None else open_context(self._lifespan, self)

    def job_scope_context(
        self, ctx: JobContext
    ) -> contextlib.AbstractAsyncContextManager[Any] | None:
        """The app's per-job scope around one attempt, or None if it has none."""
        if self._job_scope is None:
            return None
        return _scoped(open_context(self._job_scope, ctx), ctx)

    def finish_hooks(
        self, definition: JobDefinition | None, state: JobState | None
    ) -> builtins.list[Hook]:
        """Hooks for a job that ended in `state` (all candidates when state is None)."""
        hooks: builtins.list[Hook] = []
        if definition is not None:
            if definition.options.on_success and state in (None, JobState.COMPLETED):
                hooks.append(definition.options.on_success)
            if definition.options.on_failure and state in (None, JobState.FAILED):
                hooks.append(definition.options.on_failure)
        return hooks + self._finished_hooks


def _check_schedule(kwargs: dict[str, Any]) -> None:
    if kwargs.get("run_at") is None and kwargs.get("delay") is None:
        raise ConfigurationError("schedule() needs run_at= or delay=")


@dataclass(frozen=True, slots=True)
class _EnqueueRequest:
    """A validated enqueue call: the row to store and how to report a duplicate."""

    name: str
    new: NewJob
    connection: Any
    raise_on_duplicate: bool


class RunningWorker:
    """An in-process worker started by `App.start_worker`."""

    def __init__(self, app: App, worker: Worker, task: asyncio.Task[None]) -> None:
        self.app = app
        self.worker = worker
        self.task = task

    @property
    def id(self) -> str:
        return self.worker.id

    def stop(self) -> None:
        """Stop claiming, let running jobs finish within the grace period, and return."""
        self.app.runtime.call(self.stop_async())

    async def stop_async(self) -> None:
        async def stop() -> None:
            self.worker.request_stop()
            await asyncio.shield(self.task)
            if self in self.app._workers:
                self.app._workers.remove(self)

        await self.app.runtime.call_async(stop())

    def join(self) -> None:
        """Block until the worker has stopped (after `request_stop` from a signal handler)."""

        async def stopped() -> None:
            await asyncio.shield(self.task)

        self.app.runtime.call(stopped())


@contextlib.asynccontextmanager
async def _scoped(manager: contextlib.AbstractAsyncContextManager[Any], ctx: JobContext) -> Any:
    async with manager as scope:
        ctx.scope = scope
        yield scope


async def _opened(backend: Backend) -> Backend:
    return backend


EARLIEST_RUN_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_RUN_AT = datetime(9999, 12, 30, tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    """A run_at as an aware datetime (naive means UTC), within the range storage can hold."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ConfigurationError(f"run_at must be a datetime, got {value!r}")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST_RUN_AT <= aware <= LATEST_RUN_AT:
        raise ConfigurationError(f"run_at {value.isoformat()} is out of range (1970 to 9999)")
    return aware


def _job_filter(
    state: JobState | str | Iterable[JobState | str] | None,
    name: str | None,
    queue: str | None,
    limit: int,
    offset: int,
) -> JobFilter:
    if state is None:
        states: tuple[JobState, ...] = ()
    elif isinstance(state, str):
        states = (JobState(state),)
    else:
        states = tuple(JobState(s) for s in state)
    return JobFilter(states=states, name=name, queue=queue, limit=limit, offset=offset)
