"""Conformance: storing jobs (enqueue, enqueue_many, delays, idempotency keys, cron ticks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from underway.backends.base import Backend
from underway.models import JobError, JobFilter, JobState, Outcome

from .support import claim_one, enqueue, lease, new_job


async def test_enqueue_stores_a_pending_job_with_its_fields(backend: Backend) -> None:
    job = new_job(name="export", queue="reports", priority=5, args={"month": "2026-10"})
    result = await backend.enqueue(job)
    assert not result.joined
    assert not result.skipped
    stored = await backend.get(job.id)
    assert stored is not None
    assert stored == result.job
    assert (stored.id, stored.name, stored.queue, stored.priority) == (
        job.id,
        "export",
        "reports",
        5,
    )
    assert stored.state is JobState.PENDING
    assert stored.args == {"month": "2026-10"}
    assert (stored.attempt, stored.max_attempts) == (0, 3)
    assert stored.created_at.tzinfo is not None
    assert stored.run_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert stored.errors == ()
    assert stored.error is None
    assert stored.result is None


async def test_json_arguments_come_back_exactly_from_a_read_and_a_claim(backend: Backend) -> None:
    args = {
        "text": 'é ✓ "quoted" \\ tab\t',
        "big": 2**70,
        "numbers": [0, -1, 1.5, 2.5e-3, -0.25],
        "flags": [True, False, None],
        "empty": {"list": [], "dict": {}},
        "nested": {"a": {"b": [{"c": "d"}]}},
    }
    job = new_job(args=args)
    await backend.enqueue(job)
    stored = await backend.get(job.id)
    assert stored is not None
    assert stored.args == args
    (claimed,) = await backend.claim("worker-1", ["default"], 1)
    assert claimed.args == args
    assert [type(v) for v in claimed.args["numbers"]] == [int, int, float, float, float]


async def test_enqueue_with_a_delay_is_scheduled_in_the_future(backend: Backend) -> None:
    job = await enqueue(backend, delay_s=60.0)
    assert job.state is JobState.SCHEDULED
    assert job.run_at - job.created_at >= timedelta(seconds=59)


async def test_enqueue_with_run_at_uses_that_time(backend: Backend) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    future = await enqueue(backend, run_at=later)
    assert future.state is JobState.SCHEDULED
    assert abs((future.run_at - later).total_seconds()) < 0.001
    past = await enqueue(backend, run_at=datetime.now(UTC) - timedelta(hours=1))
    assert past.state is JobState.PENDING


async def test_same_idempotency_key_returns_the_first_job(backend: Backend) -> None:
    first = await backend.enqueue(new_job(idempotency_key="order-42"))
    again = await backend.enqueue(new_job(idempotency_key="order-42", args={"n": 2}))
    assert again.joined
    assert again.job.id == first.job.id
    other = await backend.enqueue(new_job(idempotency_key="order-43"))
    assert other.job.id != first.job.id


async def test_enqueue_many_stores_all_in_order(backend: Backend) -> None:
    jobs = [new_job(args={"n": i}) for i in range(25)]
    results = await backend.enqueue_many(jobs)
    assert [r.job.id for r in results] == [j.id for j in jobs]
    assert all(r.job.state is JobState.PENDING for r in results)
    page = await backend.list_jobs(JobFilter(limit=100))
    assert page.total == 25


async def test_enqueue_many_answers_the_jobs_exactly_as_stored(backend: Backend) -> None:
    from datetime import timedelta

    jobs = [
        new_job(args={"n": 1, "s": "x"}),
        new_job(priority=5, queue="reports", lane="job:task", lane_limit=2),
        new_job(delay_s=60.0, fingerprint="fp", unique="queue", lane="fp:fp", lane_limit=1),
        new_job(run_at=datetime.now(UTC) + timedelta(hours=1), retention_s=10.0),
    ]
    results = await backend.enqueue_many(jobs)
    for result in results:
        stored = await backend.get(result.id)
        assert stored is not None
        assert (result.id, result.name, result.state) == (stored.id, stored.name, stored.state)
        assert result.job == stored
    assert [r.state for r in results] == [JobState.PENDING] * 2 + [JobState.SCHEDULED] * 2


async def test_enqueue_many_of_alike_jobs_stores_each_with_its_own_values(
    backend: Backend,
) -> None:
    """Alike jobs (only the id differs, or the id and a few columns): every job is stored with
    its own values, whichever columns the batch shares."""
    alike = [new_job(args={"n": 1}) for _ in range(3)]
    mixed = [new_job(args={"n": i}, priority=i % 2, queue=f"q{i % 3}") for i in range(6)]
    for batch in (alike, mixed):
        results = await backend.enqueue_many(batch)
        assert [r.job.id for r in results] == [j.id for j in batch]
        for job, result in zip(batch, results, strict=True):
            stored = await backend.get(job.id)
            assert stored == result.job
            assert (stored.args, stored.priority, stored.queue) == (
                job.args,
                job.priority,
                job.queue,
            )


async def test_enqueue_many_keeps_awkward_values_in_every_column(backend: Backend) -> None:
    """Values that array encodings must escape or widen survive a batch where they vary."""
    later = datetime.now(UTC) + timedelta(hours=1)
    batch = [
        new_job(args={"s": 'a,b {c} "d" \\ é\n'}, priority=-(2**31), queue="q,1", run_at=later),
        new_job(args={"s": "NULL", "n": None}, priority=2**31 - 1, queue='q "2"', delay_s=30.5),
        new_job(args={"l": [1, {"x": "}"}]}, priority=0, queue="{q3}", retention_s=0.25),
    ]
    results = await backend.enqueue_many(batch)
    for job, result in zip(batch, results, strict=True):
        stored = await backend.get(job.id)
        assert stored == result.job
        assert (stored.args, stored.priority, stored.queue, stored.retention_s) == (
            job.args,
            job.priority,
            job.queue,
            job.retention_s,
        )
    assert results[0].job.run_at == later


async def test_a_retried_enqueue_many_with_the_same_ids_stores_nothing_twice(
    backend: Backend,
) -> None:
    jobs = [new_job(args={"n": i}) for i in range(3)]
    first = await backend.enqueue_many(jobs)
    again = await backend.enqueue_many([*jobs, new_job(args={"n": 3})])
    assert [r.job.id for r in again[:3]] == [r.job.id for r in first]
    page = await backend.list_jobs(JobFilter(limit=100))
    assert page.total == 4


async def test_enqueue_many_applies_uniqueness_within_the_batch(backend: Backend) -> None:
    jobs = [new_job(unique="join", fingerprint="same") for _ in range(3)]
    results = await backend.enqueue_many(jobs)
    assert [r.joined for r in results] == [False, True, True]
    assert {r.job.id for r in results} == {jobs[0].id}


async def test_one_job_per_recurring_tick(backend: Backend) -> None:
    tick = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    first = await backend.enqueue(new_job(recurring_id="nightly", fire_at=tick))
    again = await backend.enqueue(new_job(recurring_id="nightly", fire_at=tick))
    assert again.joined
    assert again.job.id == first.job.id
    assert first.job.recurring_id == "nightly"
    following = await backend.enqueue(
        new_job(recurring_id="nightly", fire_at=tick + timedelta(minutes=1))
    )
    assert following.job.id != first.job.id


async def test_enqueue_of_a_ready_job_notifies_work(backend: Backend) -> None:
    seen: list[str] = []
    unsubscribe = backend.subscribe("work", seen.append)
    await enqueue(backend)
    assert seen
    unsubscribe()


async def test_get_many_reads_the_jobs_that_exist_in_the_order_asked(backend: Backend) -> None:
    first, second = new_job(), new_job()
    await backend.enqueue(first)
    await backend.enqueue(second)
    found = await backend.get_many([second.id, "no-such-job", first.id, second.id])
    assert [job.id for job in found] == [second.id, first.id, second.id]
    assert await backend.get_many([]) == []


async def test_get_many_reads_each_job_as_get_does(backend: Backend) -> None:
    """Read in bulk or one by one, a job is the same, whatever its state and history."""
    retried, completed = await enqueue(backend, priority=1), await enqueue(backend)
    later = await enqueue(backend, run_at=datetime.now(UTC) + timedelta(hours=1))
    boom = JobError(type="ValueError", message="bad", attempt=1)
    ends = [
        Outcome(lease(await claim_one(backend)), "retry", error=boom, retry_delay_s=60),
        Outcome(lease(await claim_one(backend)), "completed", result={"n": [1.5, "ü"]}),
    ]
    assert await backend.finish(ends) == [True, True]
    ids = [later.id, completed.id, retried.id]
    one_by_one = [await backend.get(job_id) for job_id in ids]
    assert await backend.get_many(ids) == one_by_one
    assert [job.state for job in one_by_one if job is not None] == [
        JobState.SCHEDULED,
        JobState.COMPLETED,
        JobState.SCHEDULED,
    ]
