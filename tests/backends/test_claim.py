"""Conformance: claiming ready jobs (order, batches, queues, lanes, concurrent claimers)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.waiting import eventually
from underway.backends.base import Backend
from underway.models import ClaimedJob, JobState, Outcome

from .support import WORKER, claim_one, enqueue, lease, new_job


async def test_claim_marks_the_job_running_for_the_worker(backend: Backend) -> None:
    job = await enqueue(backend)
    claimed = await claim_one(backend)
    assert claimed.id == job.id
    assert claimed.state is JobState.RUNNING
    assert claimed.attempt == 1
    assert claimed.worker_id == WORKER
    assert claimed.started_at is not None
    assert claimed.heartbeat_at is not None
    assert await backend.claim(WORKER, ["default"], 5) == []


async def test_a_claim_answers_what_the_attempt_needs(backend: Backend) -> None:
    job = await enqueue(backend, args={"n": 7}, max_attempts=4)
    [claimed] = await backend.claim(WORKER, ["default"], 1)
    due = job.run_at.timestamp()
    assert claimed == ClaimedJob(job.id, job.name, {"n": 7}, 1, 4, due_at=claimed.due_at)
    assert claimed.due_at is not None
    assert abs(claimed.due_at - due) < 0.01
    assert claimed.queue == "default"
    assert claimed.trace_context is None


async def test_claim_resets_progress_of_a_retried_attempt(backend: Backend) -> None:
    from underway.models import ProgressUpdate

    await enqueue(backend)
    first = await claim_one(backend)
    await backend.save_progress([ProgressUpdate(lease(first), progress=40, message="half")], 10)
    await backend.finish([Outcome(lease(first), "retry")])
    second = await claim_one(backend)
    assert (second.attempt, second.progress, second.message) == (2, 0.0, None)


async def test_claim_order_is_priority_then_run_at_then_insertion(backend: Backend) -> None:
    now = datetime.now(UTC)
    low = await enqueue(backend, priority=0)
    old = await enqueue(backend, priority=0, run_at=now - timedelta(minutes=5))
    high = await enqueue(backend, priority=10)
    later_same = await enqueue(backend, priority=0)
    claimed = await backend.claim(WORKER, ["default"], 10)
    assert [j.id for j in claimed] == [high.id, old.id, low.id, later_same.id]


async def test_claim_takes_at_most_limit_in_batches(backend: Backend) -> None:
    await backend.enqueue_many([new_job(args={"n": i}) for i in range(7)])
    first = await backend.claim(WORKER, ["default"], 3)
    second = await backend.claim(WORKER, ["default"], 3)
    third = await backend.claim(WORKER, ["default"], 3)
    assert [len(first), len(second), len(third)] == [3, 3, 1]
    assert [j.args["n"] for j in first + second + third] == list(range(7))
    assert await backend.claim(WORKER, ["default"], 0) == []


async def test_claim_only_takes_jobs_of_the_given_queues(backend: Backend) -> None:
    mail = await enqueue(backend, queue="mail")
    await enqueue(backend, queue="reports")
    assert await backend.claim(WORKER, [], 5) == []
    claimed = await backend.claim(WORKER, ["mail", "other"], 5)
    assert [j.id for j in claimed] == [mail.id]
    assert len(await backend.claim(WORKER, ["reports"], 5)) == 1


async def test_claim_given_names_takes_only_jobs_of_those_names(backend: Backend) -> None:
    mail = await enqueue(backend, name="mail")
    await enqueue(backend, name="report")
    laned = await backend.enqueue(new_job(name="mail", lane="job:mail", lane_limit=1))
    await backend.enqueue(new_job(name="report", lane="job:report", lane_limit=1))
    assert await backend.claim(WORKER, ["default"], 5, names=[]) == []
    claimed = await backend.claim(WORKER, ["default"], 5, names=["mail", "other"])
    assert [j.id for j in claimed] == [mail.id, laned.job.id]
    assert [j.name for j in await backend.claim(WORKER, ["default"], 5)] == ["report", "report"]


async def test_scheduled_jobs_are_claimed_only_when_due(backend: Backend) -> None:
    job = await enqueue(backend, delay_s=0.3)
    assert await backend.claim(WORKER, ["default"], 1) == []
    claimed = await eventually(lambda: backend.claim(WORKER, ["default"], 1))
    assert claimed[0].id == job.id


async def test_lane_limit_is_honoured_and_order_kept(backend: Backend) -> None:
    jobs = [new_job(lane="job:sync", lane_limit=2, args={"n": i}) for i in range(5)]
    await backend.enqueue_many(jobs)
    free = await enqueue(backend)
    first = await backend.claim(WORKER, ["default"], 10)
    assert [j.id for j in first] == [jobs[0].id, jobs[1].id, free.id]
    assert await backend.claim(WORKER, ["default"], 10) == []
    await backend.finish([Outcome(lease(first[0]), "completed")])
    nxt = await backend.claim(WORKER, ["default"], 10)
    assert [j.id for j in nxt] == [jobs[2].id]


async def test_a_lane_counts_its_running_jobs_in_later_claims(backend: Backend) -> None:
    jobs = [new_job(lane="job:two", lane_limit=2, args={"n": i}) for i in range(4)]
    await backend.enqueue_many(jobs)
    first = await backend.claim(WORKER, ["default"], 1)
    second = await backend.claim(WORKER, ["default"], 1)
    assert [j.id for j in first + second] == [jobs[0].id, jobs[1].id]
    assert await backend.claim(WORKER, ["default"], 1) == []
    await backend.finish([Outcome(lease(first[0]), "completed")])
    assert [j.id for j in await backend.claim(WORKER, ["default"], 5)] == [jobs[2].id]


async def test_lanes_are_independent(backend: Backend) -> None:
    a = [new_job(lane="job:x:a", lane_limit=1) for _ in range(2)]
    b = [new_job(lane="job:x:b", lane_limit=1) for _ in range(2)]
    await backend.enqueue_many([*a, *b])
    claimed = await backend.claim(WORKER, ["default"], 10)
    assert {j.id for j in claimed} == {a[0].id, b[0].id}


async def test_concurrent_claimers_never_share_a_job(
    backend: Backend, other_backend: Backend
) -> None:
    await backend.enqueue_many([new_job(args={"n": i}) for i in range(60)])
    laned = [new_job(lane="job:one", lane_limit=1, args={"n": i}) for i in range(5)]
    await backend.enqueue_many(laned)

    async def drain(b: Backend, worker: str) -> list[str]:
        got: list[str] = []
        for _ in range(40):
            got += [j.id for j in await b.claim(worker, ["default"], 3)]
        return got

    results = await asyncio.gather(
        drain(backend, "w1"), drain(other_backend, "w2"), drain(backend, "w3")
    )
    claimed = [job_id for ids in results for job_id in ids]
    assert len(claimed) == len(set(claimed)) == 61
    running_in_lane = [j for j in laned if j.id in claimed]
    assert len(running_in_lane) == 1


async def test_a_free_lane_is_claimed_behind_a_long_blocked_lane(backend: Backend) -> None:
    backlog = [new_job(lane="job:busy", lane_limit=1, args={"n": i}) for i in range(600)]
    await backend.enqueue_many(backlog)
    first = await backend.claim(WORKER, ["default"], 1)
    assert [j.id for j in first] == [backlog[0].id]
    free = await enqueue(backend, lane="job:free", lane_limit=1)
    claimed = await backend.claim(WORKER, ["default"], 10)
    assert [j.id for j in claimed] == [free.id]


async def test_claim_order_holds_across_queues_plain_and_laned_jobs(backend: Backend) -> None:
    low = await enqueue(backend, queue="a", priority=0)
    mid = await enqueue(backend, queue="b", priority=5)
    top = await enqueue(backend, queue="b", priority=10, lane="job:t", lane_limit=1)
    blocked = await enqueue(backend, queue="a", priority=20, lane="job:t", lane_limit=1)
    first = await backend.claim(WORKER, ["a", "b"], 2)
    assert [j.id for j in first] == [blocked.id, mid.id]
    # The lane is full now, so its next job waits, and plain jobs are still claimed.
    assert [j.id for j in await backend.claim(WORKER, ["a", "b"], 5)] == [low.id]
    assert await backend.claim(WORKER, ["a", "b"], 5) == []
    await backend.finish([Outcome(lease(first[0]), "completed")])
    assert [j.id for j in await backend.claim(WORKER, ["a", "b"], 5)] == [top.id]


async def test_a_claim_of_several_queues_takes_their_plain_jobs_in_claim_order(
    backend: Backend,
) -> None:
    low = await enqueue(backend, queue="a", priority=0)
    top = await enqueue(backend, queue="b", priority=5)
    mid = await enqueue(backend, queue="a", priority=1)
    first = await backend.claim(WORKER, ["a", "b"], 2)
    assert [(j.id, j.queue) for j in first] == [(top.id, "b"), (mid.id, "a")]
    assert [j.id for j in await backend.claim(WORKER, ["a", "b"], 5)] == [low.id]


async def test_a_claim_of_several_queues_takes_plain_and_limited_jobs_of_each(
    backend: Backend,
) -> None:
    a_plain = await enqueue(backend, queue="a", priority=0)
    b_laned = await enqueue(backend, queue="b", priority=3, lane="job:l", lane_limit=5)
    b_plain = await enqueue(backend, queue="b", priority=2)
    a_rated = await enqueue(
        backend, queue="a", priority=1, rate_key="job:r", rate_limit=5, rate_window_s=60.0
    )
    claimed = await backend.claim(WORKER, ["a", "b"], 10)
    assert [j.id for j in claimed] == [b_laned.id, b_plain.id, a_rated.id, a_plain.id]
    assert [j.queue for j in claimed] == ["b", "b", "a", "a"]
