"""Conformance: cancel, retry, delete and the read queries (get, list_jobs, logs, stats)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from underway.backends.base import Backend
from underway.errors import InvalidStateError, JobNotFound
from underway.models import JobFilter, JobState, Outcome

from .support import claim_one, enqueue, lease, run_to_end, unique_job

NOT_IDS = ["no-such-job", "00000000-0000-0000-0000-000000000000", "' OR 1=1 --", "", "a\x00b"]


async def test_cancel_of_a_waiting_job_cancels_it_now(backend: Backend) -> None:
    seen: list[str] = []
    backend.subscribe("finished", seen.append)
    pending = await enqueue(backend)
    scheduled = await enqueue(backend, delay_s=60)
    for job in (pending, scheduled):
        cancelled = await backend.cancel(job.id)
        assert cancelled.state is JobState.CANCELLED
        assert cancelled.finished_at is not None
        assert cancelled.error is not None
        assert cancelled.error.type == "Cancelled"
    assert {pending.id, scheduled.id} <= set(seen)
    assert await backend.claim("w", ["default"], 5) == []


async def test_cancel_of_a_running_job_asks_its_worker(backend: Backend) -> None:
    seen: list[str] = []
    backend.subscribe("cancel", seen.append)
    await enqueue(backend)
    job = await claim_one(backend)
    asked = await backend.cancel(job.id)
    assert asked.state is JobState.RUNNING
    assert asked.cancel_requested
    assert set(seen) == {job.id}


async def test_cancel_of_a_finished_job_is_an_invalid_state(backend: Backend) -> None:
    await enqueue(backend)
    done = await run_to_end(backend)
    with pytest.raises(InvalidStateError):
        await backend.cancel(done.id)
    assert (await backend.get(done.id)) == done


@pytest.mark.parametrize("job_id", NOT_IDS)
async def test_unknown_ids_are_not_found(backend: Backend, job_id: str) -> None:
    assert await backend.get(job_id) is None
    with pytest.raises(JobNotFound):
        await backend.cancel(job_id)
    with pytest.raises(JobNotFound):
        await backend.retry(job_id)
    assert await backend.delete(job_id) is False
    assert await backend.logs(job_id) == []


async def test_retry_of_a_failed_job_gives_it_one_more_attempt(backend: Backend) -> None:
    await enqueue(backend, max_attempts=1)
    failed = await run_to_end(backend, "failed")
    retried = await backend.retry(failed.id)
    assert retried.state is JobState.PENDING
    assert (retried.attempt, retried.max_attempts) == (1, 2)
    assert retried.finished_at is None
    again = await claim_one(backend)
    assert (again.id, again.attempt) == (failed.id, 2)


async def test_retry_of_a_cancelled_job_clears_the_request(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.cancel(job.id)
    await backend.finish([Outcome(lease(job), "completed")])
    retried = await backend.retry(job.id)
    assert retried.state is JobState.PENDING
    assert not retried.cancel_requested


async def test_retry_of_an_active_or_completed_job_is_an_invalid_state(backend: Backend) -> None:
    waiting = await enqueue(backend)
    with pytest.raises(InvalidStateError):
        await backend.retry(waiting.id)
    await backend.cancel(waiting.id)
    await enqueue(backend)
    done = await run_to_end(backend)
    with pytest.raises(InvalidStateError):
        await backend.retry(done.id)


async def test_retry_is_refused_while_a_duplicate_is_active(backend: Backend) -> None:
    first = (await backend.enqueue(unique_job("join"))).job
    await backend.cancel(first.id)
    second = (await backend.enqueue(unique_job("join"))).job
    assert second.id != first.id
    with pytest.raises(InvalidStateError):
        await backend.retry(first.id)
    assert await backend.get(first.id) is not None


async def test_delete_removes_the_job_and_its_logs(backend: Backend) -> None:
    await enqueue(backend)
    done = await run_to_end(backend)
    assert await backend.delete(done.id) is True
    assert await backend.get(done.id) is None
    assert await backend.delete(done.id) is False


async def test_list_jobs_is_newest_first_with_total_and_pages(backend: Backend) -> None:
    ids = [(await enqueue(backend, args={"n": i})).id for i in range(7)]
    page = await backend.list_jobs(JobFilter(limit=3))
    assert page.total == 7
    assert [j.id for j in page.jobs] == ids[::-1][:3]
    last = await backend.list_jobs(JobFilter(limit=3, offset=6))
    assert [j.id for j in last.jobs] == [ids[0]]
    assert last.total == 7


async def test_list_jobs_filters(backend: Backend) -> None:
    a = await enqueue(backend, name="alpha", queue="q1", args={"city": "Lyon"})
    b = await enqueue(backend, name="beta", queue="q2", args={"city": "Oslo_100%"})
    c = await enqueue(backend, name="beta", queue="q1", delay_s=60)

    async def ids(**criteria: object) -> list[str]:
        return [j.id for j in (await backend.list_jobs(JobFilter(**criteria))).jobs]  # type: ignore[arg-type]

    assert await ids(name="beta") == [c.id, b.id]
    assert await ids(queue="q1") == [c.id, a.id]
    assert await ids(states=(JobState.SCHEDULED,)) == [c.id]
    assert await ids(states=(JobState.PENDING, JobState.SCHEDULED), name="alpha") == [a.id]
    assert await ids(search="lyon") == [a.id]
    assert await ids(search="100%") == [b.id]
    assert await ids(search="s_o") == []
    assert await ids(search=a.id[-12:]) == [a.id]  # a uuid7 begins with its time
    hour = timedelta(hours=1)
    assert len(await ids(created_after=datetime.now(UTC) - hour)) == 3
    assert await ids(created_before=datetime.now(UTC) - hour) == []


async def test_stats_count_jobs_per_state_and_recent_finishes(backend: Backend) -> None:
    await enqueue(backend)
    await enqueue(backend)
    await enqueue(backend, delay_s=60)
    await run_to_end(backend)
    stats = await backend.stats()
    assert stats.counts == {"completed": 1, "pending": 1, "scheduled": 1}
    assert (stats.finished_last_minute, stats.finished_last_hour) == (1, 1)
