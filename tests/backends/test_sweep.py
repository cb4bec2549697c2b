"""Conformance: the sweeper's transitions (staging, stalled jobs) and retention pruning."""

from __future__ import annotations

import asyncio

from tests.waiting import eventually
from underway.backends.base import Backend
from underway.backends.policy import MAX_LOSSES
from underway.models import JobState, Outcome

from .support import WORKER, claim_one, clock_moves_on, enqueue, lease, run_to_end, state_of


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


async def test_a_lost_job_without_retries_goes_back_to_pending_without_spending_one(
    backend: Backend,
) -> None:
    await enqueue(backend, max_attempts=1, name="fragile")
    job = await claim_one(backend)
    await clock_moves_on()
    result = await backend.sweep(stall_timeout_s=0)
    assert (result.requeued, result.failed) == (1, 0)
    assert [(lost.job_id, lost.name, lost.attempt, lost.worker_id) for lost in result.lost] == [
        (job.id, "fragile", 1, WORKER)
    ]
    back = await backend.get(job.id)
    assert back is not None
    assert (back.state, back.attempt, back.max_attempts, back.losses) == (JobState.PENDING, 1, 2, 1)
    assert back.error is not None
    assert back.error.type == "WorkerLost"
    [line] = await backend.logs(job.id)
    assert line.level == "warning"
    assert f"worker {WORKER} was lost during attempt 1" in line.message
    assert "put back in the queue without spending a retry" in line.message
    again = await claim_one(backend, "w2")
    assert (again.attempt, again.max_attempts) == (2, 2), "its one attempt is still to come"


async def test_the_max_losses_th_loss_fails_the_job_with_worker_lost(backend: Backend) -> None:
    await enqueue(backend, max_attempts=1)
    for loss in range(1, MAX_LOSSES):
        job = await claim_one(backend)
        await clock_moves_on()
        assert (await backend.sweep(stall_timeout_s=0)).requeued == 1, f"loss {loss} is forgiven"
        assert await state_of(backend, job.id) is JobState.PENDING
    job = await claim_one(backend)
    await clock_moves_on()
    result = await backend.sweep(stall_timeout_s=0)
    assert (result.requeued, result.failed) == (0, 1)
    failed = await backend.get(job.id)
    assert failed is not None
    losses = MAX_LOSSES
    assert (failed.state, failed.attempt, failed.losses) == (JobState.FAILED, losses, losses)
    assert failed.finished_at is not None
    assert failed.error is not None
    assert failed.error.type == "WorkerLost"
    assert f"lost {losses} times" in failed.error.message
    assert [e.type for e in failed.errors] == ["WorkerLost"] * losses
    last = (await backend.logs(job.id))[-1]
    assert (last.level, f"lost {losses} times" in last.message) == ("error", True)


async def test_max_losses_one_fails_a_job_at_its_first_loss(backend: Backend) -> None:
    await enqueue(backend, max_attempts=3)
    job = await claim_one(backend)
    await clock_moves_on()
    assert (await backend.sweep(stall_timeout_s=0, max_losses=1)).failed == 1
    assert await state_of(backend, job.id) is JobState.FAILED


async def test_a_job_with_two_retries_lost_once_still_has_both_retries(backend: Backend) -> None:
    await enqueue(backend, max_attempts=3)
    await claim_one(backend)
    await clock_moves_on()
    await backend.sweep(stall_timeout_s=0)
    for attempt in (2, 3):
        job = await claim_one(backend)
        assert job.attempt == attempt
        assert job.attempt < job.max_attempts, "a worker retries the failure of this attempt"
        assert await backend.finish([Outcome(lease(job), "retry")]) == [True]
    last = await claim_one(backend)
    assert (last.attempt, last.max_attempts, last.losses) == (4, 4, 1)


async def test_jobs_lost_together_are_put_back_apart_for_their_last_chance(
    backend: Backend,
) -> None:
    """One of two jobs that keep losing their worker together may be what kills it: before
    their last chance they go back `spacing_s` apart, so that they are not claimed side by side
    again; before that, both go back at once."""
    for _ in range(2):
        await enqueue(backend, max_attempts=1)
    assert len(await backend.claim(WORKER, ("default",), 2)) == 2
    await clock_moves_on()
    assert (await backend.sweep(stall_timeout_s=0, max_losses=3, spacing_s=0.3)).requeued == 2
    together = await backend.claim(WORKER, ("default",), 2)
    assert len(together) == 2, "a loss that leaves more than one chance puts both back at once"
    await clock_moves_on()
    result = await backend.sweep(stall_timeout_s=0, max_losses=3, spacing_s=0.3)
    assert result.requeued == 2
    assert sorted((lost.state, lost.delay_s) for lost in result.lost) == [
        (JobState.PENDING, 0.0),
        (JobState.SCHEDULED, 0.3),
    ]
    first = await backend.claim(WORKER, ("default",), 2)
    assert len(first) == 1, "the other waits"
    await asyncio.sleep(0.35)
    second = await backend.claim(WORKER, ("default",), 2)
    assert {job.id for job in [*first, *second]} == {job.id for job in together}


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
    await backend.sweep(stall_timeout_s=0, max_losses=1)
    assert {failing.id, cancelling.id} <= set(seen)
