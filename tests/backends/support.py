"""Building NewJobs and waiting on conditions with deadlines, for the backend suite."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from uuid_utils import uuid7

from underway.backends.base import Backend
from underway.models import Job, JobState, Lease, NewJob, Outcome

T = TypeVar("T")
WORKER = "worker-1"


def new_job(**overrides: Any) -> NewJob:
    """A plain job with test defaults; any NewJob field can be overridden."""
    fields: dict[str, Any] = {
        "id": str(uuid7()),  # as the app makes them: time-ordered
        "name": "task",
        "queue": "default",
        "priority": 0,
        "args": {"n": 1},
        "max_attempts": 3,
        "retention_s": 3600.0,
    }
    fields.update(overrides)
    return NewJob(**fields)


def unique_job(mode: str, fingerprint: str = "fp-1", **overrides: Any) -> NewJob:
    lane = {"lane": f"fp:{fingerprint}", "lane_limit": 1} if mode == "queue" else {}
    return new_job(unique=mode, fingerprint=fingerprint, **{**lane, **overrides})


def lease(job: Job, worker_id: str = WORKER) -> Lease:
    return Lease(job_id=job.id, attempt=job.attempt, worker_id=worker_id)


async def enqueue(backend: Backend, **overrides: Any) -> Job:
    return (await backend.enqueue(new_job(**overrides))).job


async def claim_one(
    backend: Backend, worker_id: str = WORKER, queues: tuple[str, ...] = ("default",)
) -> Job:
    """Claim the next job; returns its stored row, which the claim's answer must match."""
    jobs = await backend.claim(worker_id, queues, 1)
    assert len(jobs) == 1, jobs
    claimed = jobs[0]
    stored = await backend.get(claimed.id)
    assert stored is not None
    assert (claimed.name, claimed.args, claimed.attempt, claimed.max_attempts) == (
        stored.name,
        stored.args,
        stored.attempt,
        stored.max_attempts,
    )
    return stored


async def run_to_end(backend: Backend, kind: str = "completed", result: Any = None) -> Job:
    """Claim the next job and finish it with `kind`; returns the stored job."""
    job = await claim_one(backend)
    assert await backend.finish([Outcome(lease=lease(job), kind=kind, result=result)]) == [True]  # type: ignore[arg-type]
    stored = await backend.get(job.id)
    assert stored is not None
    return stored


async def state_of(backend: Backend, job_id: str) -> JobState:
    job = await backend.get(job_id)
    assert job is not None
    return job.state


async def clock_moves_on() -> None:
    """Let the wall clock (and the database's now()) advance past the last write."""
    await asyncio.sleep(0.005)
