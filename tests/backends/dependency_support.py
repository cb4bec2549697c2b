"""Jobs that wait for others, for the backend suite: each job gets a queue of its own, so
that a test ends exactly the job it names."""

from __future__ import annotations

import uuid
from typing import Any

from underway.backends.base import Backend
from underway.models import Job, JobError, JobState, Lease, NewJob, Outcome
from underway.workflow_models import NewWorkflow

from .support import WORKER, new_job

BROKEN = JobError(type="ValueError", message="broken")


def step(*after: NewJob | Job | str, **overrides: Any) -> NewJob:
    """A job in a queue of its own, waiting for `after` (jobs or ids)."""
    ids = tuple(a if isinstance(a, str) else a.id for a in after)
    fields: dict[str, Any] = {"queue": f"q-{uuid.uuid4().hex[:12]}", "after": ids}
    return new_job(**{**fields, **overrides})


def workflow(kind: str = "workflow", name: str | None = "nightly") -> NewWorkflow:
    """A workflow (or batch) to store, with a fresh id."""
    return NewWorkflow(str(uuid.uuid4()), name, kind)  # type: ignore[arg-type]


def member(flow: NewWorkflow, *after: NewJob, **overrides: object) -> NewJob:
    """A `step` of the workflow `flow`."""
    return step(*after, workflow_id=flow.id, **overrides)


async def stored(backend: Backend, job: NewJob | Job | str) -> Job:
    found = await backend.get(job if isinstance(job, str) else job.id)
    assert found is not None
    return found


async def start(
    backend: Backend, job: NewJob | Job | str, worker: str = WORKER
) -> tuple[Job, Lease]:
    """Claim this job (it must be ready) from its queue; the job as claimed, and its lease."""
    running = await stored(backend, job)
    claimed = await backend.claim(worker, [running.queue], 1)
    assert [c.id for c in claimed] == [running.id], (running.state, claimed)
    return await stored(backend, running.id), Lease(running.id, claimed[0].attempt, worker)


async def end(
    backend: Backend, job: NewJob | Job | str, kind: str = "completed", result: Any = None
) -> Job:
    """Claim this job and finish it with `kind` (a failure with BROKEN); the job as stored
    then."""
    running, held = await start(backend, job)
    error = BROKEN if kind == "failed" else None
    outcome = Outcome(lease=held, kind=kind, result=result, error=error)  # type: ignore[arg-type]
    assert await backend.finish([outcome]) == [True]
    return await stored(backend, running.id)


async def states(backend: Backend, *jobs: NewJob | Job) -> list[JobState]:
    return [(await stored(backend, job)).state for job in jobs]
