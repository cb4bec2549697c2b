"""JobRegistry: what an app declares in code: its jobs, their cron schedules, its worker hooks."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, overload

from ..context import JobContext
from ..errors import ConfigurationError, UnknownJobError
from ..job_options import (
    DEFAULT_BACKOFF,
    DEFAULT_RETENTION,
    Backoff,
    ConcurrencyKey,
    Duration,
    Hook,
    JobOptions,
    flow_options,
    seconds,
)
from ..jobs import JobDefinition
from ..models import CatchUp, ClaimedJob, JobState, NewJob, Overlap, QueueLimits, UniqueMode
from ..rate_limits import RateLimit, Window, rate_limit_of
from ..recurring import CronSchedule, Schedule, check_policies
from .job_function import (
    AsyncContextJob,
    AsyncJob,
    JobFunction,
    JobHost,
    SyncContextJob,
    SyncJob,
    job_function,
)
from .resources import nothing, open_context

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")
#: A job named by its registered name or given as its job object.
JobRef = str | JobFunction[Any, Any]

#: Wraps each attempt of a job, outside the app's job scope (an integration's, e.g. tracing).
AttemptScope = Callable[[ClaimedJob], contextlib.AbstractAsyncContextManager[Any]]
#: Wraps each enqueue in the caller's thread, yielding the row to store (which it may amend).
EnqueueScope = Callable[[NewJob], contextlib.AbstractContextManager[NewJob]]
#: The `@app.job` options that belong to a `cron=` declaration.
CRON_OPTIONS = ("timezone", "cron_args", "overlap", "catch_up")
#: Text a queue name may not hold: control characters (PostgreSQL stores no NUL at all).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RecurringDeclaration:
    """A cron schedule declared in code with `@app.job(cron=...)`."""

    job_name: str
    cron: str
    timezone: str
    args: dict[str, Any]
    overlap: Overlap
    catch_up: CatchUp


def queue_limits(
    name: str,
    concurrency: int | None,
    rate_limit: RateLimit | str | None,
    rate_window: Window | None,
) -> QueueLimits:
    """The limits `app.queue(...)` declares, checked now so a mistake fails at import time."""
    if not isinstance(name, str) or not name or CONTROL_CHARACTERS.search(name):
        raise ConfigurationError(
            f"a queue name is non-empty text without control characters, not {name!r}"
        )
    if concurrency is not None and (type(concurrency) is not int or concurrency < 1):
        raise ConfigurationError(f"queue {name!r}: concurrency is at least 1, not {concurrency!r}")
    if rate_limit is None:
        if rate_window is not None:
            raise ConfigurationError(f"queue {name!r}: rate_window is only valid with rate_limit")
        return QueueLimits(name, concurrency)
    rate = rate_limit_of(rate_limit, rate_window)
    return QueueLimits(name, concurrency, rate.limit, rate.per, rate.fixed)


def cron_schedule(cron: str, timezone: str) -> Schedule:
    """The default tick source: a cron expression in a timezone."""
    return CronSchedule(cron, timezone)


class JobDecorator(Protocol):
    """What `@app.job(...)` with options returns: a decorator giving the typed job object."""

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, fn: Callable[Concatenate[JobContext, P], Coroutine[Any, Any, R]], /
    ) -> AsyncContextJob[P, R]: ...

    @overload
    def __call__(self, fn: Callable[Concatenate[JobContext, P], R], /) -> SyncContextJob[P, R]: ...

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, fn: Callable[P, Coroutine[Any, Any, R]], /
    ) -> AsyncJob[P, R]: ...

    @overload
    def __call__(self, fn: Callable[P, R], /) -> SyncJob[P, R]: ...


class JobRegistry:
    """The jobs declared with `@app.job` (by name and by function), their cron declarations,
    and the lifespan, job scope and finish hooks that workers apply around them."""

    def __init__(self) -> None:
        self.registry: dict[str, JobDefinition] = {}
        self.declared: dict[str, RecurringDeclaration] = {}
        #: The queues declared with `app.queue`, by name, with their limits.
        self.queue_declarations: dict[str, QueueLimits] = {}
        #: Turns (cron, timezone) into ticks; tests may swap in a faster tick source.
        self.schedule_for: Callable[[str, str], Schedule] = cron_schedule
        self._lifespan: Callable[..., Any] | None = None
        self._job_scope: Callable[..., Any] | None = None
        self._finished_hooks: list[Hook] = []
        #: Integrations' scopes around each attempt and each enqueue (`underway.contrib`).
        self.attempt_scopes: list[AttemptScope] = []
        self.enqueue_scopes: list[EnqueueScope] = []

    # The overloads overlap on purpose: the first that matches a function wins, so an async
    # function taking a JobContext first gets the narrowest job type.
    @overload
    def job(  # type: ignore[overload-overlap]
        self, fn: Callable[Concatenate[JobContext, P], Coroutine[Any, Any, R]], /
    ) -> AsyncContextJob[P, R]: ...

    @overload
    def job(self, fn: Callable[Concatenate[JobContext, P], R], /) -> SyncContextJob[P, R]: ...

    @overload
    def job(  # type: ignore[overload-overlap]
        self, fn: Callable[P, Coroutine[Any, Any, R]], /
    ) -> AsyncJob[P, R]: ...

    @overload
    def job(self, fn: Callable[P, R], /) -> SyncJob[P, R]: ...

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
        timeout: Duration | None = None,
        retention: Duration = DEFAULT_RETENTION,
        unique: UniqueMode | None = None,
        unique_for: Duration | None = None,
        unique_by: Iterable[str] | None = None,
        concurrency: int | None = None,
        concurrency_key: ConcurrencyKey | None = None,
        on_success: Hook | None = None,
        on_failure: Hook | None = None,
        max_losses: int | None = None,
        rate_limit: RateLimit | str | None = None,
        rate_key: ConcurrencyKey | None = None,
        rate_window: Window | None = None,
        retry_on: Iterable[type[BaseException]] | None = None,
        discard_on: Iterable[type[BaseException]] = (),
        queue_limit: int | None = None,
        queue_full: Literal["skip", "raise"] = "skip",
        webhook: str | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        cron_args: dict[str, Any] | None = None,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "one",
    ) -> JobDecorator: ...

    def job(self, fn: Any = None, /, **options: Any) -> Any:
        """Register a function as a job and return its typed job object; usable bare
        (`@app.job`) or with options (`@app.job(retries=3)`)."""
        if fn is not None:
            return self._register(fn, options)
        return lambda f: self._register(f, options)

    def _register(self, fn: Callable[..., Any], options: dict[str, Any]) -> JobFunction[Any, Any]:
        if isinstance(fn, JobFunction):
            fn = fn.definition.fn  # another app's job: register its function, with these options
        name = options.pop("name", None) or fn.__name__
        if name in self.registry:
            raise ConfigurationError(f"a job named {name!r} is already registered")
        unique_by = options.pop("unique_by", None)
        flow = flow_options(options)
        cron = options.pop("cron", None)
        cron_options = {k: options.pop(k) for k in CRON_OPTIONS if k in options}
        if cron is None and cron_options:
            option = next(iter(cron_options))
            raise ConfigurationError(f"{option} is only valid together with cron=")
        definition = JobDefinition(
            fn,
            JobOptions(
                name=name,
                timeout=seconds(options.pop("timeout", None), "timeout"),
                retention=seconds(options.pop("retention", DEFAULT_RETENTION), "retention") or 0.0,
                unique_for=seconds(options.pop("unique_for", None), "unique_for"),
                unique_by=None if unique_by is None else tuple(unique_by),
                **flow,
                **options,
            ),
        )
        if cron is not None:
            self.declare_recurring(definition, cron, cron_options)
        self.registry[name] = definition
        return job_function(self.job_host(), definition)

    def job_host(self) -> JobHost:
        """What job objects enqueue through: the App, which binds the registry to storage."""
        raise ConfigurationError("jobs declared on a bare JobRegistry cannot be enqueued")

    def declare_recurring(
        self, definition: JobDefinition, cron: str, options: dict[str, Any]
    ) -> None:
        """Check a `@app.job(cron=...)` declaration now, so a mistake fails at import time."""
        timezone = options.pop("timezone", "UTC")
        overlap, catch_up = options.pop("overlap", "skip"), options.pop("catch_up", "one")
        check_policies(overlap, catch_up)
        self.schedule_for(cron, timezone)
        args = definition.validate(options.pop("cron_args", None) or {})
        self.declared[definition.name] = RecurringDeclaration(
            definition.name, cron, timezone, args, overlap, catch_up
        )

    def definition(self, job: JobRef) -> JobDefinition:
        """The definition of a job given by name or by its job object, if registered here."""
        name = job if isinstance(job, str) else getattr(job, "name", None)
        found = self.registry.get(name) if isinstance(name, str) else None
        if found is None or (isinstance(job, JobFunction) and found is not job.definition):
            raise UnknownJobError(name if isinstance(name, str) else repr(job))
        return found

    def queue(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        rate_limit: RateLimit | str | None = None,
        rate_window: Window | None = None,
    ) -> QueueLimits:
        """Declare a queue with limits that every worker shares through the database: at most
        `concurrency` of its jobs run at once, at most `rate_limit` start per window. The
        app's workers serve it; a worker stores the limits as it starts."""
        if name in self.queue_declarations:
            raise ConfigurationError(f"the queue {name!r} is already declared")
        limits = queue_limits(name, concurrency, rate_limit, rate_window)
        self.queue_declarations[name] = limits
        return limits

    def declared_queues(self) -> list[QueueLimits]:
        """The limits of the queues declared with `app.queue`, for a worker to store."""
        return list(self.queue_declarations.values())

    def queues(self) -> tuple[str, ...]:
        """The queues the app's workers serve: its jobs' and the ones it declares."""
        jobs = (d.options.queue for d in self.registry.values())
        return tuple(sorted({"default", *jobs, *self.queue_declarations}))

    def load_result(self, name: str, data: Any) -> Any:
        definition = self.registry.get(name)
        return data if definition is None else definition.load_result(data)

    # -- worker hooks ----------------------------------------------------------------------

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

    def lifespan_context(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return nothing() if self._lifespan is None else open_context(self._lifespan, self)

    def job_scope_context(
        self, ctx: JobContext, job: ClaimedJob
    ) -> contextlib.AbstractAsyncContextManager[Any] | None:
        """The scopes around one attempt (integrations', then the app's job scope), or None
        if there are none."""
        scope = (
            None if self._job_scope is None else _scoped(open_context(self._job_scope, ctx), ctx)
        )
        if not self.attempt_scopes:
            return scope
        return _nested([*(wrap(job) for wrap in self.attempt_scopes), scope])

    def finish_hooks(self, definition: JobDefinition | None, state: JobState | None) -> list[Hook]:
        """Hooks for a job that ended in `state` (all candidates when state is None)."""
        hooks: list[Hook] = []
        if definition is not None:
            if definition.options.on_success and state in (None, JobState.COMPLETED):
                hooks.append(definition.options.on_success)
            if definition.options.on_failure and state in (None, JobState.FAILED):
                hooks.append(definition.options.on_failure)
        return hooks + self._finished_hooks


@contextlib.asynccontextmanager
async def _nested(scopes: list[contextlib.AbstractAsyncContextManager[Any] | None]) -> Any:
    async with contextlib.AsyncExitStack() as stack:
        for scope in scopes:
            if scope is not None:
                await stack.enter_async_context(scope)
        yield


@contextlib.asynccontextmanager
async def _scoped(manager: contextlib.AbstractAsyncContextManager[Any], ctx: JobContext) -> Any:
    async with manager as scope:
        ctx.scope = scope
        yield scope
