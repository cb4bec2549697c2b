"""Conformance: a claim starts at most `rate_limit` jobs per window under each rate key,
across claimers, counting starts (not running jobs); other keys and plain jobs go on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.waiting import eventually
from underway.backends import claiming
from underway.backends.base import Backend
from underway.models import NewJob, Outcome, QueueLimits

from .flow_rows import count_parked, count_rate_starts, parked_until
from .support import WORKER, lease, new_job


def rated(key: str = "job:send:a", limit: int = 2, window_s: float = 60.0, **more: Any) -> NewJob:
    return new_job(rate_key=key, rate_limit=limit, rate_window_s=window_s, **more)


async def test_a_key_starts_at_most_its_limit_per_window(backend: Backend) -> None:
    jobs = [rated(args={"n": i}) for i in range(4)]
    await backend.enqueue_many(jobs)
    claimed = await backend.claim(WORKER, ["default"], 10)
    assert [j.id for j in claimed] == [jobs[0].id, jobs[1].id]
    # Ending the attempts frees no start: the window counts starts, not running jobs.
    await backend.finish([Outcome(lease(j), "completed") for j in claimed])
    assert await backend.claim(WORKER, ["default"], 10) == []


async def test_a_claim_records_every_start_however_many_it_makes(backend: Backend) -> None:
    """More starts than SQLite records in one statement: all of them count."""
    await backend.enqueue_many([rated(limit=1000, args={"n": i}) for i in range(1100)])
    first = await backend.claim(WORKER, ["default"], 600)
    assert len(first) == 600
    assert count_rate_starts(backend) == 600
    assert len(await backend.claim(WORKER, ["default"], 600)) == 400
    assert count_rate_starts(backend) == 1000


async def test_starts_of_separate_claims_that_expire_together_all_count(
    backend: Backend,
) -> None:
    """A fixed window's starts all expire as it ends, claim after claim: each counts."""
    day = 86_400.0
    await backend.enqueue_many(
        [rated(limit=3, window_s=day, rate_fixed=True, args={"n": i}) for i in range(4)]
    )
    for _ in range(3):
        assert len(await backend.claim(WORKER, ["default"], 1)) == 1
    assert await backend.claim(WORKER, ["default"], 1) == []
    assert count_rate_starts(backend) == 3


async def test_a_bulk_enqueue_stores_each_jobs_own_rate_limit(backend: Backend) -> None:
    """A batch mixing plain, traced and rate-limited jobs (limits, windows and kinds of
    window differing): each answered as stored, and each key held to its own limit."""
    jobs = [
        new_job(args={"n": 0}),
        rated("job:send:a", limit=1, args={"n": 1}, trace_context="t"),
        rated("job:send:b", limit=2, window_s=30.0, rate_fixed=True, args={"n": 2}),
        rated("job:send:a", limit=1, args={"n": 3}),
        rated("job:send:b", limit=2, window_s=30.0, rate_fixed=True, args={"n": 4}),
        rated("job:send:b", limit=2, window_s=30.0, rate_fixed=True, args={"n": 5}),
    ]
    results = await backend.enqueue_many(jobs)
    for result in results:
        assert result.job == await backend.get(result.id)
    assert [r.job.rate_key for r in results] == [None, *(j.rate_key for j in jobs[1:])]
    claimed = await backend.claim(WORKER, ["default"], 10)
    assert [c.args["n"] for c in claimed] == [0, 1, 2, 4]
    assert [c.trace_context for c in claimed] == [None, "t", None, None]
    assert count_rate_starts(backend) == 3


async def test_a_key_at_its_limit_holds_back_only_its_own_jobs(backend: Backend) -> None:
    held = [rated("job:send:a", limit=1, args={"n": i}) for i in range(3)]
    await backend.enqueue_many(held)
    first = await backend.claim(WORKER, ["default"], 1)
    assert [j.id for j in first] == [held[0].id]
    other = rated("job:send:b", limit=1)
    plain = new_job()
    await backend.enqueue_many([other, plain])
    claimed = await backend.claim(WORKER, ["default"], 10)
    assert {j.id for j in claimed} == {other.id, plain.id}


async def test_starts_leave_the_window_and_the_key_claims_again(backend: Backend) -> None:
    jobs = [rated(limit=1, window_s=0.3, args={"n": i}) for i in range(2)]
    await backend.enqueue_many(jobs)
    assert [j.id for j in await backend.claim(WORKER, ["default"], 5)] == [jobs[0].id]
    assert await backend.claim(WORKER, ["default"], 5) == []
    later = await eventually(lambda: backend.claim(WORKER, ["default"], 5), timeout=5)
    assert [j.id for j in later] == [jobs[1].id]


async def test_a_start_recorded_later_that_leaves_its_window_first_frees_its_slot(
    backend: Backend,
) -> None:
    """A key's window can change between deploys: then a start recorded after another can
    leave the window before it, and frees its slot then, not when the other does."""
    long = rated(limit=2, window_s=60.0, args={"n": 0})
    await backend.enqueue_many([long])
    assert [j.id for j in await backend.claim(WORKER, ["default"], 5)] == [long.id]
    short = [rated(limit=2, window_s=0.3, args={"n": i}) for i in (1, 2, 3)]
    await backend.enqueue_many(short)
    assert [j.id for j in await backend.claim(WORKER, ["default"], 5)] == [short[0].id]
    assert await backend.claim(WORKER, ["default"], 5) == []
    later = await eventually(lambda: backend.claim(WORKER, ["default"], 5), timeout=5)
    assert [j.id for j in later] == [short[1].id], "the 60 s start still counts"


async def test_a_rate_limit_and_a_lane_both_hold(backend: Backend) -> None:
    both = [rated("job:x", limit=5, lane="job:x", lane_limit=1, args={"n": i}) for i in range(3)]
    await backend.enqueue_many(both)
    claimed = await backend.claim(WORKER, ["default"], 10)
    assert [j.id for j in claimed] == [both[0].id]
    await backend.finish([Outcome(lease(claimed[0]), "completed")])
    assert [j.id for j in await backend.claim(WORKER, ["default"], 10)] == [both[1].id]


async def test_concurrent_claimers_never_exceed_a_limit(
    backend: Backend, other_backend: Backend
) -> None:
    await backend.enqueue_many([rated(limit=7, args={"n": i}) for i in range(40)])
    rounds = await asyncio.gather(
        *(b.claim(f"w{i}", ["default"], 3) for i in range(6) for b in (backend, other_backend))
    )
    assert sum(len(r) for r in rounds) == 7


async def test_prune_forgets_starts_that_left_their_window(backend: Backend) -> None:
    jobs = [rated(limit=1, window_s=0.2, args={"n": i}) for i in range(2)]
    await backend.enqueue_many(jobs)
    assert len(await backend.claim(WORKER, ["default"], 5)) == 1

    assert count_rate_starts(backend) == 1
    await backend.prune()
    assert count_rate_starts(backend) == 1, "a start still in its window is kept"

    async def pruned() -> bool:
        await backend.prune()
        return count_rate_starts(backend) == 0

    await eventually(pruned, timeout=5)
    assert len(await backend.claim(WORKER, ["default"], 5)) == 1


async def hold_back(backend: Backend, keys: int, priority: int = 0) -> None:
    """`keys` keys at their limit of one start, each with a job waiting behind its start."""
    await backend.enqueue_many(
        [
            rated(f"job:held:{k}", limit=1, priority=priority, args={"k": k, "n": n})
            for n in range(2)
            for k in range(keys)
        ]
    )
    assert len(await backend.claim(WORKER, ["default"], keys + 1)) == keys


async def test_a_claim_reads_past_a_backlog_held_back_ahead_of_it(backend: Backend) -> None:
    """More held-back jobs ahead than one read of limited jobs takes: the claim still finds
    the free ones behind them, in claim order, and so does the next claim."""
    await hold_back(backend, keys=200)
    free = [rated(f"job:free:{n}", limit=100, args={"n": n}) for n in range(10)]
    await backend.enqueue_many(free)

    first = await backend.claim(WORKER, ["default"], 4)
    second = await backend.claim(WORKER, ["default"], 10)

    assert [j.id for j in first] == [j.id for j in free[:4]]
    assert [j.id for j in second] == [j.id for j in free[4:]]


async def test_reading_past_held_back_jobs_keeps_claim_order_across_priorities(
    backend: Backend,
) -> None:
    await hold_back(backend, keys=40, priority=5)
    free = [
        rated(f"job:free:{n}", limit=100, priority=priority, args={"n": n})
        for n, priority in enumerate([0, 3, 5, 0, 5, 3, 7])
    ]
    await backend.enqueue_many(free)

    claimed = await backend.claim(WORKER, ["default"], 5)

    by_order = [free[i] for i in (6, 2, 4, 1, 5)]
    assert [j.id for j in claimed] == [j.id for j in by_order]


async def test_jobs_of_a_key_full_for_a_while_are_parked_until_its_next_start(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All of them, read or not: claims then pass them by without reading them, and they
    come back in order."""
    monkeypatch.setattr(claiming, "PARK_FROM_S", 0.1)
    jobs = [rated("job:slow", limit=1, window_s=0.6, args={"n": i}) for i in range(80)]
    await backend.enqueue_many(jobs)
    assert [j.id for j in await backend.claim(WORKER, ["default"], 5)] == [jobs[0].id]

    assert await backend.claim(WORKER, ["default"], 5) == []
    assert count_parked(backend) == 79
    later = await eventually(lambda: backend.claim(WORKER, ["default"], 5), timeout=5)

    assert [j.id for j in later] == [jobs[1].id]
    assert await backend.claim(WORKER, ["default"], 5) == []
    assert count_parked(backend) == 78


async def test_parked_jobs_come_back_for_a_claimer_that_never_met_their_key(
    backend: Backend, other_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claiming, "PARK_FROM_S", 0.1)
    jobs = [rated("job:slow", limit=1, window_s=0.6, args={"n": i}) for i in range(2)]
    await backend.enqueue_many(jobs)
    await backend.claim(WORKER, ["default"], 5)
    assert await backend.claim(WORKER, ["default"], 5) == []
    assert count_parked(backend) == 1

    later = await eventually(lambda: other_backend.claim(WORKER, ["default"], 5), timeout=5)

    assert [j.id for j in later] == [jobs[1].id]


async def test_a_claim_under_a_queue_limit_parks_the_jobs_of_a_key_full_for_a_while_too(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue with a concurrency limit is claimed from by the ranked claim, which parks too."""
    monkeypatch.setattr(claiming, "PARK_FROM_S", 0.1)
    await backend.sync_queue_limits([QueueLimits("default", concurrency=50)])
    jobs = [rated("job:slow", limit=1, window_s=0.6, args={"n": i}) for i in range(40)]
    await backend.enqueue_many(jobs)
    assert [j.id for j in await backend.claim(WORKER, ["default"], 5)] == [jobs[0].id]

    assert await backend.claim(WORKER, ["default"], 5) == []

    assert count_parked(backend) == 39


@pytest.mark.parametrize("queue_limit", [False, True], ids=["one-statement", "ranked"])
async def test_a_full_key_parks_its_jobs_a_window_apart_per_limit_and_releases_them_so(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, queue_limit: bool
) -> None:
    """Each parked job waits until its key could first start it (`claiming.parked_until`):
    a slot that opens brings back only the jobs it and the others of its window can take,
    and the claim that takes them parks none again. Both claims (one statement, and ranked
    under a queue limit) park so; the jobs still start in order."""
    monkeypatch.setattr(claiming, "PARK_FROM_S", 0.1)
    if queue_limit:
        await backend.sync_queue_limits([QueueLimits("default", concurrency=50)])
    jobs = [rated("job:slow", limit=2, window_s=0.5, args={"n": i}) for i in range(7)]
    await backend.enqueue_many(jobs)
    assert [j.id for j in await backend.claim(WORKER, ["default"], 5)] == [j.id for j in jobs[:2]]
    assert await backend.claim(WORKER, ["default"], 5) == []

    parked = parked_until(backend)
    first = parked[jobs[2].id]
    expected = [claiming.parked_until(first, 0.5, 2, position) for position in range(5)]
    assert [parked[j.id] for j in jobs[2:]] == pytest.approx(expected, abs=1e-3)

    later = await eventually(lambda: backend.claim(WORKER, ["default"], 5), timeout=5)
    assert [j.id for j in later] == [j.id for j in jobs[2:4]]
    assert await backend.claim(WORKER, ["default"], 5) == []
    assert parked_until(backend) == {j.id: parked[j.id] for j in jobs[4:]}
    started = [j.id for j in jobs[:4]]
    while len(started) < len(jobs):
        started += [
            j.id for j in await eventually(lambda: backend.claim(WORKER, ["default"], 5), timeout=5)
        ]
    assert started == [j.id for j in jobs]


async def test_an_idle_claimer_knows_when_the_next_parked_job_comes_back(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the jobs of a key that came back are claimed, no key is held, but its later jobs
    are still parked: the next slot names when the first of them comes back, so that an
    idle worker claims then, not a poll later."""
    monkeypatch.setattr(claiming, "PARK_FROM_S", 0.1)
    jobs = [rated("job:slow", limit=1, window_s=0.3, args={"n": i}) for i in range(3)]
    await backend.enqueue_many(jobs)
    await backend.claim(WORKER, ["default"], 5)
    assert await backend.claim(WORKER, ["default"], 5) == []
    parked = parked_until(backend)

    later = await eventually(lambda: backend.claim(WORKER, ["default"], 5), timeout=5)

    assert [j.id for j in later] == [jobs[1].id]
    slot = backend.next_slot_in()
    assert slot is not None
    assert slot == pytest.approx(parked[jobs[2].id] - time.time(), abs=0.1)
