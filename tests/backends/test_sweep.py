"""Conformance: the sweeper's transitions (staging, stalled jobs) and retention pruning."""

from __future__ import annotations

from tests.waiting import eventually
from underway.backends.base import Backend
from underway.models import JobState, Outcome

from .support import claim_one, clock_moves_on, enqueue, lease, run_to_end, state_of


async def test_sweep_stages_due_scheduled_jobs(backend: Backend) -> None:
    due = await enqueue(backend, delay_s=0.2)
    later = await enqueue(backend, delay_s=60)
    first = await backend.sweep(stall_timeout_s=60)
    assert first.staged == 0

    async def staged() -> int:
        return (await backend.sweep(stall_timeout_s=60)).staged

    assert await eventually(staged) == 1
    assert await state_of(backend, due.id) is JobState.PENDING
    assert await state_of(backend, later.id) is JobState.SCHEDULED


async def test_sweep_leaves_jobs_with_fresh_heartbeats_alone(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    result = await backend.sweep(stall_timeout_s=60)
    assert (result.requeued, result.failed, result.cancelled) == (0, 0, 0)
    assert await backend.get(job.id) == job


async def test_stalled_job_with_attempts_left_is_requeued(backend: Backend) -> None:
    seen: list[str] = []
    backend.subscribe("work", seen.append)
    await enqueue(backend, max_attempts=2)
    job = await claim_one(backend)
    await clock_moves_on()
    result = await backend.sweep(stall_timeout_s=0)
    assert (result.requeued, result.failed, result.cancelled) == (1, 0, 0)
    assert seen
    back = await backend.get(job.id)
    assert back is not None
    assert (back.state, back.worker_id, back.attempt) == (JobState.PENDING, None, 1)
    assert back.error is not None
    assert back.error.type == "WorkerLost"
    assert [e.type for e in back.errors] == ["WorkerLost"]
    again = await claim_one(backend, "w2")
    assert again.attempt == 2
    stale = await backend.finish([Outcome(lease(job), "completed")])
    assert stale == [False]


async def test_stalled_job_without_attempts_left_fails(backend: Backend) -> None:
    await enqueue(backend, max_attempts=1)
    job = await claim_one(backend)
    await clock_moves_on()
    result = await backend.sweep(stall_timeout_s=0)
    assert (result.requeued, result.failed) == (0, 1)
    failed = await backend.get(job.id)
    assert failed is not None
    assert failed.state is JobState.FAILED
    assert failed.finished_at is not None


async def test_stalled_job_asked_to_cancel_is_cancelled(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.cancel(job.id)
    await clock_moves_on()
    result = await backend.sweep(stall_timeout_s=0)
    assert result.cancelled == 1
    assert await state_of(backend, job.id) is JobState.CANCELLED


async def test_prune_deletes_finished_jobs_past_retention_in_batches(backend: Backend) -> None:
    for _ in range(5):
        await enqueue(backend, retention_s=0)
        await run_to_end(backend)
    kept = await enqueue(backend, retention_s=3600)
    await run_to_end(backend)
    active = await enqueue(backend, retention_s=0)
    await clock_moves_on()
    assert await backend.prune(batch_size=2) == 5
    assert await backend.get(kept.id) is not None
    assert await backend.get(active.id) is not None
    assert await backend.prune() == 0


async def test_jobs_ended_by_the_sweeper_notify_their_waiters(backend: Backend) -> None:
    seen: list[str] = []
    backend.subscribe("finished", seen.append)
    await enqueue(backend, max_attempts=1)
    failing = await claim_one(backend)
    await enqueue(backend)
    cancelling = await claim_one(backend)
    await backend.cancel(cancelling.id)
    seen.clear()
    await clock_moves_on()
    await backend.sweep(stall_timeout_s=0)
    assert {failing.id, cancelling.id} <= set(seen)
