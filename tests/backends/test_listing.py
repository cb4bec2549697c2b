"""Conformance: the job listing's search over errors, its keyset walk, bounded scans and sorts."""

from __future__ import annotations

from underway.backends.base import Backend
from underway.models import JobError, JobFilter, Outcome

from .support import claim_one, clock_moves_on, enqueue, lease


async def fail(backend: Backend, message: str) -> str:
    """Enqueue a job, claim it and fail it with a ValueError saying `message`."""
    await enqueue(backend, max_attempts=1)
    job = await claim_one(backend)
    error = JobError(type="ValueError", message=message, traceback="Traceback ...", attempt=1)
    outcome = Outcome(lease=lease(job), kind="failed", error=error)
    assert await backend.finish([outcome]) == [True]
    return job.id


async def ids(backend: Backend, **criteria: object) -> list[str]:
    page = await backend.list_jobs(JobFilter(**criteria))  # type: ignore[arg-type]
    return [job.id for job in page.jobs]


async def test_search_finds_jobs_by_their_error_message_and_type(backend: Backend) -> None:
    refused = await fail(backend, "connection refused by db-7")
    lyon = (await enqueue(backend, args={"city": "Lyon"})).id
    assert await ids(backend, search="REFUSED BY db-7") == [refused]
    assert await ids(backend, search="valueerror") == [refused]
    assert await ids(backend, search="lyon") == [lyon]


async def test_a_keyset_walk_without_counting_visits_every_match_once(backend: Backend) -> None:
    stored = [(await enqueue(backend, args={"n": i})).id for i in range(7)]
    seen: list[str] = []
    before = None
    for _ in range(10):
        page = await backend.list_jobs(JobFilter(limit=3, before=before, count=False))
        seen += [job.id for job in page.jobs]
        assert page.total == len(page.jobs)
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == stored[::-1]


async def test_a_bounded_scan_stops_at_its_floor_and_says_where_to_go_on(
    backend: Backend,
) -> None:
    stored = [(await enqueue(backend, args={"n": i})).id for i in range(6)]
    first = await backend.list_jobs(JobFilter(search='"n"', scan=4, limit=10, count=False))
    assert [job.id for job in first.jobs] == stored[::-1][:4]
    assert first.next_before is not None
    rest = await backend.list_jobs(
        JobFilter(search='"n"', scan=4, limit=10, count=False, before=first.next_before)
    )
    assert [job.id for job in rest.jobs] == stored[::-1][4:]
    assert rest.next_before is None


async def test_sorting_by_start_and_duration_ranks_the_newest_matches(backend: Backend) -> None:
    for n in range(3):
        await enqueue(backend, args={"n": n})
    first = await claim_one(backend)
    await clock_moves_on()
    second = await claim_one(backend)
    await clock_moves_on()
    assert await backend.finish([Outcome(lease=lease(second), kind="completed")]) == [True]
    never_started = (await ids(backend))[0]

    assert await ids(backend, order="started") == [second.id, first.id, never_started]
    # `first` still runs, so its duration keeps growing past the finished one's.
    assert await ids(backend, order="duration") == [first.id, second.id, never_started]
    page = await backend.list_jobs(JobFilter(order="duration", limit=1, offset=1))
    assert [job.id for job in page.jobs] == [second.id]
    assert page.total == 3


async def test_a_bounded_count_stops_at_its_limit(backend: Backend) -> None:
    for n in range(5):
        await enqueue(backend, args={"n": n})
    assert (await backend.list_jobs(JobFilter(limit=2, count_limit=3))).total == 3
    assert (await backend.list_jobs(JobFilter(limit=2, count_limit=9))).total == 5
    assert (await backend.list_jobs(JobFilter(limit=2, search='"n"', count_limit=4))).total == 4
