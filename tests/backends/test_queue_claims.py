"""Conformance: a claim obeys the queues table: nothing from a paused queue, no more of a
queue's jobs running than its concurrency, no more starts per window than its rate limit,
and other queues go on."""

from __future__ import annotations

import asyncio

from tests.waiting import eventually
from underway.backends.base import Backend
from underway.models import NewJob, Outcome, QueueLimits

from .support import WORKER, lease, new_job


def in_queue(queue: str, count: int) -> list[NewJob]:
    return [new_job(queue=queue, args={"n": i}) for i in range(count)]


async def test_a_paused_queue_gives_nothing_until_it_is_resumed(backend: Backend) -> None:
    mail, other = in_queue("mail", 2), in_queue("reports", 1)
    await backend.enqueue_many([*mail, *other])
    await backend.pause_queue("mail", by="alice")
    claimed = await backend.claim(WORKER, ["mail", "reports"], 10)
    assert [j.id for j in claimed] == [other[0].id]
    assert await backend.claim(WORKER, ["mail"], 10) == []
    await backend.resume_queue("mail")
    assert {j.id for j in await backend.claim(WORKER, ["mail"], 10)} == {j.id for j in mail}


async def test_a_queue_runs_at_most_its_concurrency_across_claimers(
    backend: Backend, other_backend: Backend
) -> None:
    await backend.sync_queue_limits([QueueLimits("mail", concurrency=3)])
    await backend.enqueue_many(in_queue("mail", 10))
    claimers = [(f"w{i}", b) for i in range(4) for b in (backend, other_backend)]
    rounds = await asyncio.gather(*(b.claim(worker, ["mail"], 2) for worker, b in claimers))
    pairs = zip(claimers, rounds, strict=True)
    running = [(job, worker) for (worker, _), claimed in pairs for job in claimed]
    assert len(running) == 3
    job, worker = running[0]
    await backend.finish([Outcome(lease(job, worker), "completed")])
    assert len(await backend.claim(WORKER, ["mail"], 10)) == 1


async def test_a_queue_starts_at_most_its_rate_per_window(backend: Backend) -> None:
    await backend.sync_queue_limits([QueueLimits("mail", rate_limit=2, rate_window_s=0.3)])
    mail = in_queue("mail", 3)
    await backend.enqueue_many(mail)
    first = await backend.claim(WORKER, ["mail", "default"], 10)
    assert [j.id for j in first] == [mail[0].id, mail[1].id]
    await backend.finish([Outcome(lease(j), "completed") for j in first])
    assert await backend.claim(WORKER, ["mail"], 10) == []
    later = await eventually(lambda: backend.claim(WORKER, ["mail"], 10), timeout=5)
    assert [j.id for j in later] == [mail[2].id]


async def test_a_queue_limit_and_a_job_rate_limit_both_hold(backend: Backend) -> None:
    await backend.sync_queue_limits([QueueLimits("mail", concurrency=5)])
    jobs = [
        new_job(queue="mail", rate_key="job:x", rate_limit=2, rate_window_s=60, args={"n": i})
        for i in range(4)
    ]
    await backend.enqueue_many(jobs)  # first in claim order
    await backend.enqueue_many(in_queue("mail", 4))
    claimed = await backend.claim(WORKER, ["mail"], 10)
    assert len(claimed) == 5
    assert sum(1 for j in claimed if j.id in {job.id for job in jobs}) == 2


async def test_a_closed_queues_backlog_ahead_does_not_crowd_out_the_others(
    backend: Backend,
) -> None:
    """A paused queue and a queue at its concurrency hold jobs ahead in claim order: a claim
    limited by a queue's limits still takes the open queue's jobs."""
    await backend.sync_queue_limits([QueueLimits("mail", concurrency=1)])
    await backend.enqueue_many([new_job(queue="mail", priority=9, args={"n": i}) for i in range(6)])
    assert len(await backend.claim(WORKER, ["mail"], 10)) == 1
    await backend.enqueue_many([new_job(queue="held", priority=9, args={"n": i}) for i in range(6)])
    await backend.pause_queue("held")
    reports = in_queue("reports", 2)
    await backend.enqueue_many(reports)

    claimed = await backend.claim(WORKER, ["mail", "held", "reports"], 4)

    assert [j.id for j in claimed] == [j.id for j in reports]


async def test_plain_due_reads_due_plain_jobs_of_open_queues_only(backend: Backend) -> None:
    assert not await backend.plain_due(["mail", "default"])
    await backend.enqueue_many([new_job(queue="mail"), new_job(queue="later", delay_s=3600)])
    assert await backend.plain_due(["mail"])
    assert await backend.plain_due(["mail"], names=["task"])
    assert not await backend.plain_due(["mail"], names=["no_such_job"])
    assert not await backend.plain_due(["later"])
    await backend.pause_queue("mail", None)
    assert not await backend.plain_due(["mail"])
