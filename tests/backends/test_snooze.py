"""Conformance: a snooze outcome puts the job back to run later without spending an attempt."""

from __future__ import annotations

from datetime import timedelta

from underway.backends.base import Backend
from underway.models import Job, JobError, JobState, Lease, Outcome

from .support import WORKER, claim_one, enqueue, lease


async def stored(backend: Backend, job_id: str) -> Job:
    job = await backend.get(job_id)
    assert job is not None
    return job


async def test_a_snooze_spends_no_attempt_and_waits_its_delay(backend: Backend) -> None:
    await enqueue(backend, max_attempts=3)
    job = await claim_one(backend)
    assert await backend.finish([Outcome(lease(job), "snooze", retry_delay_s=60)]) == [True]
    waiting = await stored(backend, job.id)
    assert waiting.state is JobState.SCHEDULED
    assert (waiting.attempt, waiting.max_attempts, waiting.snoozes) == (1, 4, 1)
    assert (waiting.worker_id, waiting.heartbeat_at, waiting.finished_at) == (None, None, None)
    assert (waiting.error, waiting.errors) == (None, ())
    assert job.started_at is not None
    assert timedelta(seconds=60) <= waiting.run_at - job.started_at < timedelta(seconds=70)
    assert await backend.claim(WORKER, ["default"], 1) == []


async def test_a_snooze_of_no_time_is_ready_at_once_and_each_one_counts(
    backend: Backend,
) -> None:
    seen: list[str] = []
    backend.subscribe("work", seen.append)
    await enqueue(backend, max_attempts=1)
    for snoozes in (1, 2, 3):
        job = await claim_one(backend)
        seen.clear()
        assert await backend.finish([Outcome(lease(job), "snooze")]) == [True]
        ready = await stored(backend, job.id)
        assert ready.state is JobState.PENDING
        assert (ready.attempt, ready.max_attempts, ready.snoozes) == (snoozes, 1 + snoozes, snoozes)
        assert seen, "a snooze due now wakes the workers"
    last = await claim_one(backend)
    assert (last.attempt, last.max_attempts) == (4, 4)
    assert await backend.finish([Outcome(lease(last), "completed", result=7)]) == [True]
    done = await stored(backend, last.id)
    assert (done.state, done.result, done.snoozes) == (JobState.COMPLETED, 7, 3)


async def test_a_cancel_request_wins_over_a_snooze(backend: Backend) -> None:
    await enqueue(backend, max_attempts=3)
    job = await claim_one(backend)
    await backend.cancel(job.id)
    assert await backend.finish([Outcome(lease(job), "snooze", retry_delay_s=30)]) == [True]
    final = await stored(backend, job.id)
    assert final.state is JobState.CANCELLED
    assert (final.max_attempts, final.snoozes) == (3, 0)
    assert final.error is not None
    assert final.error.type == "Cancelled"
    assert final.finished_at is not None


async def test_a_snooze_by_a_lost_lease_changes_nothing(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    stale = [
        Outcome(Lease(job.id, job.attempt, "zombie"), "snooze"),
        Outcome(Lease(job.id, job.attempt + 1, WORKER), "snooze", retry_delay_s=5),
    ]
    assert await backend.finish(stale) == [False, False]
    assert await stored(backend, job.id) == job


async def test_a_batch_records_a_snooze_beside_other_outcomes(backend: Backend) -> None:
    """In a batch, the snooze is one outcome's: the others spend their attempts as usual,
    and the error history of the snoozing job's earlier attempts stays."""
    for _ in range(3):
        await enqueue(backend, max_attempts=3)
    first = await claim_one(backend)
    boom = JobError(type="IOError", message="try again", attempt=1)
    await backend.finish([Outcome(lease(first), "retry", error=boom)])
    claimed = {job.id: job for job in [await claim_one(backend) for _ in range(3)]}
    snoozing = claimed.pop(first.id)
    done, retried = claimed.values()
    outcomes = [
        Outcome(lease(snoozing), "snooze", retry_delay_s=60),
        Outcome(lease(done), "completed", result=1),
        Outcome(lease(retried), "retry", error=boom, retry_delay_s=60),
    ]
    assert await backend.finish(outcomes) == [True, True, True]
    jobs = [await stored(backend, job.id) for job in (snoozing, done, retried)]
    assert [(j.state, j.attempt, j.max_attempts, j.snoozes) for j in jobs] == [
        (JobState.SCHEDULED, 2, 4, 1),
        (JobState.COMPLETED, 1, 3, 0),
        (JobState.SCHEDULED, 1, 3, 0),
    ]
    assert [e.message for e in jobs[0].errors] == ["try again"]
    assert jobs[0].error is None
