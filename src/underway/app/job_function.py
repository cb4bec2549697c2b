"""JobFunction: what `@app.job` returns, typed by the function's parameters and result.

Arguments go to the job, options go to `options(...)`: the two never share a namespace,
so no parameter name is reserved."""

from __future__ import annotations

import functools
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, Protocol, TypeVar

from ..context import JobContext
from ..errors import ConfigurationError
from ..jobs import JobDefinition
from ..models import DependencyRule
from .enqueue_options import NO_OPTIONS, EnqueueOptions, HasId, ids_of
from .workflows import Step

if TYPE_CHECKING:
    from typing import Self

    from .handle import JobHandle

P = ParamSpec("P")
Q = ParamSpec("Q")
R = TypeVar("R")
T = TypeVar("T")


class JobHost(Protocol):
    """What a job object uses of its app: storing validated calls."""

    def enqueue_call(
        self, definition: JobDefinition, data: dict[str, Any], options: EnqueueOptions
    ) -> JobHandle[Any]: ...

    async def enqueue_call_async(
        self,
        definition: JobDefinition,
        data: dict[str, Any],
        options: EnqueueOptions,
        *,
        force_join: bool = False,
    ) -> JobHandle[Any]: ...

    async def enqueue_many_async(
        self, job: str, arguments: Iterable[Mapping[str, Any]]
    ) -> list[JobHandle[Any]]: ...

    def enqueue_many(
        self, job: str, arguments: Iterable[Mapping[str, Any]]
    ) -> list[JobHandle[Any]]: ...

    def run_blocking(self, work: Coroutine[Any, Any, R]) -> R: ...

    def handle(self, job_id: str) -> JobHandle[Any]: ...


class Arguments(Generic[P]):
    """One call's arguments, checked by the type checker against the job's parameters."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values


class JobFunction(Generic[P, R]):
    """A registered job. `enqueue(...)` takes exactly the function's arguments and returns
    a `JobHandle` typed by its result; `options(...)` sets how that enqueue runs."""

    def __init__(
        self, host: JobHost, definition: JobDefinition, options: EnqueueOptions = NO_OPTIONS
    ) -> None:
        self._host = host
        self.definition = definition
        self.name = definition.name
        self.enqueue_options = options
        wrapper: Any = self
        functools.update_wrapper(wrapper, definition.fn)

    def __repr__(self) -> str:
        return f"<job {self.name}>"

    @property
    def app(self) -> JobHost:
        """The app this job was registered on, which its enqueues go to."""
        return self._host

    def options(
        self,
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
        on_duplicate: Literal["raise"] | None = None,
        connection: Any = None,
        after: Iterable[HasId | str] | None = None,
        run_if: DependencyRule | None = None,
        tolerate: int | None = None,
        results_into: str | None = None,
    ) -> Self:
        """This job with enqueue options set (the ones given replace earlier ones, and a
        `delay` replaces an earlier `run_at` and the reverse):
        `delay` (seconds or timedelta) or `run_at` (a datetime), `priority`, `queue`,
        `idempotency_key`, `on_duplicate="raise"` and a PostgreSQL `connection` whose
        transaction the enqueue joins. `after` (handles or ids): the job waits until those
        jobs ended, and runs `run_if` they all "completed" (the default; beyond `tolerate`
        that did not, it is cancelled), "ended" (whatever became of them) or "failed" (one
        or more did not complete); `results_into` names the parameter given their results,
        as a list in the order of `after`."""
        given = {
            "delay": delay,
            "run_at": run_at,
            "priority": priority,
            "queue": queue,
            "idempotency_key": idempotency_key,
            "on_duplicate": on_duplicate,
            "connection": connection,
            "after": None if after is None else ids_of(after),
            "run_if": run_if,
            "tolerate": tolerate,
            "results_into": results_into,
        }
        changes = {k: v for k, v in given.items() if v is not None}
        # A later `when` replaces an earlier one; both in one call are refused as built.
        if delay is not None and run_at is None:
            changes["run_at"] = None
        if run_at is not None and delay is None:
            changes["delay"] = None
        chosen = replace(self.enqueue_options, **changes)
        return type(self)(self._host, self.definition, chosen)

    def step(self, *args: P.args, **kwargs: P.kwargs) -> Step[R]:
        """This call as a step of a workflow (`app.start(chain(...))`) or batch, with this
        job object's options; validated now, stored when the workflow starts."""
        given_later = self.enqueue_options.results_into
        data = self.definition.validate(
            self.definition.bind(args, kwargs, given_later), given_later
        )
        return Step(self.definition, data, self.enqueue_options)

    def receiving(self: JobFunction[Concatenate[T, Q], R]) -> Receiving[T, Q, R]:
        """This job with its first parameter given the results of what it waits for (one
        result after a step, a list after a group, a `BatchSummary` as a batch callback):
        its `step` and `enqueue` take the other parameters, as the type checker sees."""
        first = self.definition.parameters[0].name if self.definition.parameters else ""
        return Receiving(self.options(results_into=first))

    def arguments(self, *args: P.args, **kwargs: P.kwargs) -> Arguments[P]:
        """One call's arguments for `enqueue_many`, checked by the type checker."""
        return Arguments(self.definition.bind(args, kwargs))

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        """Validate the arguments and store the job; returns its handle at once."""
        data = self.definition.bind(args, kwargs, self.enqueue_options.results_into)
        return self._host.enqueue_call(self.definition, data, self.enqueue_options)

    async def enqueue_async(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        data = self.definition.bind(args, kwargs, self.enqueue_options.results_into)
        return await self._host.enqueue_call_async(self.definition, data, self.enqueue_options)

    def schedule(
        self, when: float | timedelta | datetime, /, *args: P.args, **kwargs: P.kwargs
    ) -> JobHandle[R]:
        """Enqueue to run at a datetime, or after a delay in seconds or as a timedelta."""
        return self._at(when).enqueue(*args, **kwargs)

    async def schedule_async(
        self, when: float | timedelta | datetime, /, *args: P.args, **kwargs: P.kwargs
    ) -> JobHandle[R]:
        return await self._at(when).enqueue_async(*args, **kwargs)

    def run(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run or join: enqueue with join semantics and block until the result is there."""
        return self._host.run_blocking(self.run_async(*args, **kwargs))

    async def run_async(self, *args: P.args, **kwargs: P.kwargs) -> R:
        data = self.definition.bind(args, kwargs)
        handle: JobHandle[R] = await self._host.enqueue_call_async(
            self.definition, data, self.enqueue_options, force_join=True
        )
        return await handle.wait()

    def enqueue_many(self, calls: Iterable[Arguments[P] | Mapping[str, Any]]) -> list[JobHandle[R]]:
        """Validate and store many calls in one transaction (the first bad call raises and
        nothing is stored). Give `job.arguments(...)` to have each call type-checked."""
        return self._host.enqueue_many(self.name, _plain(calls))

    async def enqueue_many_async(
        self, calls: Iterable[Arguments[P] | Mapping[str, Any]]
    ) -> list[JobHandle[R]]:
        return await self._host.enqueue_many_async(self.name, _plain(calls))

    def handle(self, job_id: str) -> JobHandle[R]:
        """A handle, typed by this job's result, for a stored job of this kind."""
        found: JobHandle[R] = self._host.handle(job_id)
        if found.name != self.name:
            raise ConfigurationError(
                f"job {job_id} runs {found.name!r}, not {self.name!r}; "
                f"use the {found.name!r} job object or app.handle(id)"
            )
        return found

    def _at(self, when: float | timedelta | datetime) -> Self:
        if isinstance(when, datetime):
            return self.options(run_at=when)
        return self.options(delay=when)


class Receiving(Generic[T, Q, R]):
    """A job whose first parameter, of type T, receives the results of what it waits for;
    the other parameters are given as usual (`job.receiving()`)."""

    def __init__(self, job: JobFunction[Any, R]) -> None:
        self.job = job

    def step(self, *args: Q.args, **kwargs: Q.kwargs) -> Step[R]:
        """A step of a workflow that receives the previous part's results."""
        return self.job.step(*args, **kwargs)

    def enqueue(
        self, after: Iterable[HasId | str], /, *args: Q.args, **kwargs: Q.kwargs
    ) -> JobHandle[R]:
        """Enqueue to run once the jobs `after` completed, with their results, in order."""
        return self.job.options(after=after).enqueue(*args, **kwargs)


def _plain(calls: Iterable[Arguments[Any] | Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    return (c.values if isinstance(c, Arguments) else c for c in calls)


class SyncJob(JobFunction[P, R]):
    """A job whose function is sync and takes no context; calling it calls the function."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self.definition.fn(*args, **kwargs)
        return result


class AsyncJob(JobFunction[P, R]):
    """A job whose function is async and takes no context; calling it calls the function."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        result: Coroutine[Any, Any, R] = self.definition.fn(*args, **kwargs)
        return result


class SyncContextJob(JobFunction[P, R]):
    """A sync job whose function takes a `JobContext` first; calling it calls the function."""

    def __call__(self, ctx: JobContext, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self.definition.fn(ctx, *args, **kwargs)
        return result


class AsyncContextJob(JobFunction[P, R]):
    """An async job whose function takes a `JobContext` first; calling it calls it."""

    def __call__(
        self, ctx: JobContext, /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]:
        result: Coroutine[Any, Any, R] = self.definition.fn(ctx, *args, **kwargs)
        return result


def job_function(host: JobHost, definition: JobDefinition) -> JobFunction[Any, Any]:
    """The job object for a definition: its class says how calling it calls the function."""
    if definition.context_param is None:
        cls: type[JobFunction[Any, Any]] = AsyncJob if definition.is_async else SyncJob
    else:
        cls = AsyncContextJob if definition.is_async else SyncContextJob
    return cls(host, definition)
