"""Assertions on what is waiting to run, with failure messages that show what is there."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter

from ..app import App
from ..app.handle import JobHandle
from ..app.job_function import JobFunction
from ..models import Job, JobState

R = TypeVar("R")
WAITING = [JobState.WAITING, JobState.SCHEDULED, JobState.PENDING]
#: How many waiting jobs a failure message shows.
SHOWN = 5


def enqueued(job: JobFunction[Any, R], /, **args: Any) -> list[JobHandle[R]]:
    """The waiting jobs (pending, scheduled, or waiting for others) of `job` whose
    arguments include `args`, oldest first, as handles typed by the job's result."""
    return [job.handle(found.id) for found in _matching(job, args)]


def assert_enqueued(job: JobFunction[Any, R], /, **args: Any) -> JobHandle[R]:
    """Fail unless a job of `job` with these arguments is waiting; returns the oldest."""
    found = _matching(job, args)
    if not found:
        raise AssertionError(
            f"no {job.name} job is waiting{_with(args)}; {_waiting(job, _waiting_jobs(job))}"
        )
    return job.handle(found[0].id)


def assert_not_enqueued(job: JobFunction[Any, Any], /, **args: Any) -> None:
    """Fail if a job of `job` with these arguments is waiting."""
    found = _matching(job, args)
    if found:
        shown = ", ".join(f"{j.id} {j.args}" for j in found[:SHOWN])
        raise AssertionError(
            f"{len(found)} {job.name} job(s) waiting{_with(args)}, expected none: {shown}"
        )


def _matching(job: JobFunction[Any, Any], args: dict[str, Any]) -> list[Job]:
    wanted = _as_stored(job, args)
    waiting = _waiting_jobs(job)
    return [j for j in waiting if all(j.args.get(k, _MISSING) == v for k, v in wanted.items())]


def _waiting_jobs(job: JobFunction[Any, Any]) -> list[Job]:
    app = job.app
    if not isinstance(app, App):
        raise TypeError(f"{job.name} is not bound to an App")
    return list(reversed(app.list(state=WAITING, name=job.name, limit=10_000)))


def _as_stored(job: JobFunction[Any, Any], args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as they are stored (validated, then JSON), so `7` matches `"7"`'s
    stored 7 and a date matches its ISO text."""
    fields = job.definition.args_model.model_fields
    unknown = sorted(set(args) - set(fields))
    if unknown:
        raise TypeError(f"{job.name} has no parameter {unknown[0]!r}; it takes {list(fields)}")
    stored = {}
    for name, value in args.items():
        adapter: TypeAdapter[Any] = TypeAdapter(fields[name].annotation or Any)
        stored[name] = adapter.dump_python(adapter.validate_python(value), mode="json")
    return stored


def _with(args: dict[str, Any]) -> str:
    return "" if not args else " with " + ", ".join(f"{k}={v!r}" for k, v in args.items())


def _waiting(job: JobFunction[Any, Any], waiting: list[Job]) -> str:
    if not waiting:
        return f"no {job.name} job is waiting at all"
    shown = "; ".join(f"{j.id} {j.args}" for j in waiting[:SHOWN])
    more = f" and {len(waiting) - SHOWN} more" if len(waiting) > SHOWN else ""
    return f"waiting {job.name} jobs: {shown}{more}"


_MISSING = object()
