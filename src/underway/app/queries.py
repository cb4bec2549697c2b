"""Reading and managing stored jobs where it takes more than one backend call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from ..backends.base import Backend
from ..errors import JobNotFound, WaitTimeout
from ..models import Job, JobFilter, JobState


async def get_job(backend: Backend, job_id: str) -> Job:
    """The stored job, or JobNotFound."""
    job = await backend.get(job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


async def delete_job(backend: Backend, job_id: str) -> None:
    """Cancel the job if it is active, then remove it, its result and its logs."""
    job = await get_job(backend, job_id)
    if job.state.is_active:
        with contextlib.suppress(Exception):
            await backend.cancel(job_id)
    if not await backend.delete(job_id):
        raise JobNotFound(job_id)


async def wait_finished(backend: Backend, job_id: str, timeout: float | None) -> Job:
    """Wait until the job is in a finished state and return it: woken by the backend's
    `finished` events, and polling with a growing delay in case one is missed."""
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
            job = await get_job(backend, job_id)
            if job.state.is_finished:
                return job
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise WaitTimeout(job_id, timeout or 0.0, job.state.value)
            with contextlib.suppress(TimeoutError):
                # Not `wait_for`: on Python 3.11 it loses a cancel that comes as `changed` is set.
                async with asyncio.timeout(min(delay, remaining or delay)):
                    await changed.wait()
            delay = min(delay * 1.5, 0.25)
    finally:
        unsubscribe()


def job_filter(
    state: JobState | str | Iterable[JobState | str] | None,
    name: str | None,
    queue: str | None,
    limit: int,
    offset: int,
) -> JobFilter:
    """The filter for `App.list`: one state, several, or all."""
    if state is None:
        states: tuple[JobState, ...] = ()
    elif isinstance(state, str):
        states = (JobState(state),)
    else:
        states = tuple(JobState(s) for s in state)
    return JobFilter(states=states, name=name, queue=queue, limit=limit, offset=offset)
