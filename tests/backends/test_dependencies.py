"""Conformance: jobs that wait for others. A dependent waits until its dependencies end, and
finishing a job counts it on what waits for it in the same transaction, releasing, cancelling
or skipping those as their rule says (the other changes that end a job:
`test_dependents_settled`)."""

from __future__ import annotations

import asyncio

import pytest

from underway.backends.base import Backend
from underway.backends.dependency_rules import DEPENDENCY_FAILED, NONE_FAILED, failed_message
from underway.errors import JobNotFound
from underway.models import JobState, Lease, Outcome

from .dependency_support import end, start, step, stored
from .support import new_job

WAITING, PENDING = JobState.WAITING, JobState.PENDING
CANCELLED, SKIPPED = JobState.CANCELLED, JobState.SKIPPED


async def test_a_job_enqueued_after_others_waits_until_they_complete(backend: Backend) -> None:
    work: list[str] = []
    backend.subscribe("work", work.append)
    first, second = step(), step()
    then = step(first, second)
    await backend.enqueue_many([first, second])
    stored_then = (await backend.enqueue(then)).job
    assert stored_then.state is WAITING
    assert (stored_then.waiting_on, stored_then.dependency_rule) == (2, "completed")
    assert await backend.claim("w", [then.queue], 5) == []

    await end(backend, first, result=1)
    waiting = await stored(backend, then)
    assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (WAITING, 1, 0)

    work.clear()
    await end(backend, second, result=2)
    released = await stored(backend, then)
    assert (released.state, released.waiting_on) == (PENDING, 0)
    assert work, "a released job wakes the workers"
    running, _ = await start(backend, then)
    assert running.attempt == 1
    outcomes = await backend.dependencies(then.id)
    assert [(o.job_id, o.state, o.result) for o in outcomes] == [
        (first.id, JobState.COMPLETED, 1),
        (second.id, JobState.COMPLETED, 2),
    ]


async def test_a_job_with_no_dependencies_has_no_rule(backend: Backend) -> None:
    plain = (await backend.enqueue(new_job())).job
    assert (plain.dependency_rule, plain.waiting_on) == (None, 0)
    assert await backend.dependencies(plain.id) == []


async def test_dependencies_that_ended_before_are_counted_at_enqueue(backend: Backend) -> None:
    done, broken = step(), step()
    await backend.enqueue_many([done, broken])
    await end(backend, done, result="ok")
    await end(backend, broken, "failed")

    ready = (await backend.enqueue(step(done))).job
    later = (await backend.enqueue(step(done, delay_s=60))).job
    cancelled = (await backend.enqueue(step(done, broken))).job
    anyway = (await backend.enqueue(step(broken, dependency_rule="ended"))).job
    needless = (await backend.enqueue(step(done, dependency_rule="failed"))).job
    needed = (await backend.enqueue(step(done, broken, dependency_rule="failed"))).job

    assert (ready.state, ready.waiting_on, ready.dependency_rule) == (PENDING, 0, "completed")
    assert later.state is JobState.SCHEDULED
    assert (cancelled.state, cancelled.failed_dependencies) == (CANCELLED, 1)
    assert cancelled.error is not None
    assert (cancelled.error.type, cancelled.error.message) == (
        DEPENDENCY_FAILED,
        failed_message(1, 0),
    )
    assert cancelled.finished_at is not None
    assert (anyway.state, anyway.failed_dependencies) == (PENDING, 1)
    assert (needless.state, needless.skip_reason) == (SKIPPED, NONE_FAILED)
    assert needless.finished_at is not None
    assert needed.state is PENDING
    for job in (ready, later, cancelled, anyway, needless, needed):
        assert job == await stored(backend, job), "the result is the job as stored"
    outcomes = await backend.dependencies(cancelled.id)
    assert [(o.job_id, o.state) for o in outcomes] == [
        (done.id, JobState.COMPLETED),
        (broken.id, JobState.FAILED),
    ]
    assert outcomes[1].error is not None


async def test_an_unknown_dependency_is_refused_with_nothing_stored(backend: Backend) -> None:
    known = step()
    await backend.enqueue(known)
    first, second = step(known), step(known, "no-such-job")
    with pytest.raises(JobNotFound) as refused:
        await backend.enqueue_many([first, second])
    assert refused.value.job_id == "no-such-job"
    assert await backend.get(first.id) is None
    assert await backend.get(second.id) is None
    await end(backend, known)  # nothing left waits on it


async def test_a_failed_dependency_cancels_its_dependents_down_a_chain(backend: Backend) -> None:
    finished: list[str] = []
    backend.subscribe("finished", finished.append)
    chain = [step()]
    for _ in range(3):
        chain.append(step(chain[-1]))
    await backend.enqueue_many(chain)
    await end(backend, chain[0], "failed")
    for job in chain[1:]:
        cancelled = await stored(backend, job)
        assert cancelled.state is CANCELLED
        assert cancelled.error is not None
        assert (cancelled.error.type, cancelled.error.message) == (
            DEPENDENCY_FAILED,
            failed_message(1, 0),
        )
        assert cancelled.finished_at is not None
        assert cancelled.id in finished, "waiters learn that it ended"


async def test_a_chain_of_a_thousand_is_cancelled_at_its_first_step_in_one_go(
    backend: Backend,
) -> None:
    chain = [step()]
    for _ in range(999):
        chain.append(step(chain[-1], queue="chain"))
    await backend.enqueue_many(chain)
    await end(backend, chain[0], "failed")
    last = await stored(backend, chain[-1])
    assert last.state is CANCELLED
    assert (await backend.stats()).counts.get(CANCELLED) == 999
    assert await backend.claim("w", ["chain"], 10) == []


async def test_tolerate_lets_that_many_dependencies_fail(backend: Backend) -> None:
    a, b, c = step(), step(), step()
    tolerant = step(a, b, c, tolerate=1)
    await backend.enqueue_many([a, b, c, tolerant])
    await end(backend, a, "failed")
    assert (await stored(backend, tolerant)).state is WAITING
    await end(backend, b, "failed")
    cancelled = await stored(backend, tolerant)
    assert (cancelled.state, cancelled.failed_dependencies) == (CANCELLED, 2)
    assert cancelled.error is not None
    assert cancelled.error.message == failed_message(2, 1)

    d, e = step(), step()
    runs = step(d, e, tolerate=1)
    await backend.enqueue_many([d, e, runs])
    await end(backend, d, "failed")
    await end(backend, e)
    released = await stored(backend, runs)
    assert (released.state, released.failed_dependencies) == (PENDING, 1)


async def test_rule_ended_runs_whatever_became_of_them(backend: Backend) -> None:
    a, b = step(), step()
    anyway = step(a, b, dependency_rule="ended")
    await backend.enqueue_many([a, b, anyway])
    await end(backend, a, "failed")
    assert (await stored(backend, anyway)).state is WAITING
    await backend.cancel(b.id)
    released = await stored(backend, anyway)
    assert (released.state, released.failed_dependencies) == (PENDING, 2)


async def test_rule_failed_runs_only_if_one_did_not_complete(backend: Backend) -> None:
    a, b, c, d = step(), step(), step(), step()
    skipped = step(a, b, dependency_rule="failed")
    runs = step(c, d, dependency_rule="failed")
    await backend.enqueue_many([a, b, c, d, skipped, runs])
    await end(backend, a)
    await end(backend, b)
    not_needed = await stored(backend, skipped)
    assert (not_needed.state, not_needed.skip_reason) == (SKIPPED, NONE_FAILED)
    assert not_needed.finished_at is not None
    await end(backend, c, "failed")
    assert (await stored(backend, runs)).state is WAITING
    await end(backend, d)
    assert (await stored(backend, runs)).state is PENDING


async def test_a_released_job_whose_run_at_is_ahead_is_scheduled(backend: Backend) -> None:
    first = step()
    later = step(first, delay_s=60)
    await backend.enqueue_many([first, later])
    await end(backend, first)
    assert (await stored(backend, later)).state is JobState.SCHEDULED


async def test_a_fan_in_finished_by_two_backends_at_once_is_released_once(
    backend: Backend, other_backend: Backend
) -> None:
    for _ in range(5):
        a, b = step(), step()
        fan_in = step(a, b, queue="fan-in")
        await backend.enqueue_many([a, b, fan_in])
        _, lease_a = await start(backend, a)
        _, lease_b = await start(other_backend, b)
        held = await asyncio.gather(
            backend.finish([Outcome(lease_a, "completed")]),
            other_backend.finish([Outcome(lease_b, "completed")]),
        )
        assert list(held) == [[True], [True]]
        released = await stored(backend, fan_in)
        assert (released.state, released.waiting_on) == (PENDING, 0)
        claims = await asyncio.gather(
            backend.claim("w1", ["fan-in"], 5), other_backend.claim("w2", ["fan-in"], 5)
        )
        assert [c.id for claimed in claims for c in claimed] == [fan_in.id]


async def test_completions_finished_together_are_counted_together(backend: Backend) -> None:
    a, b = step(queue="both"), step(queue="both")
    waits = step(a, b)
    await backend.enqueue_many([a, b, waits])
    claimed = await backend.claim("w", ["both"], 2)
    assert len(claimed) == 2
    outcomes = [Outcome(Lease(c.id, c.attempt, "w"), "completed") for c in claimed]
    assert await backend.finish(outcomes) == [True, True]
    assert (await stored(backend, waits)).state is PENDING


# -- a waiting job is active ------------------------------------------------------------------


async def test_a_waiting_job_holds_its_fingerprint_for_join_and_skip(backend: Backend) -> None:
    first, other = step(), step()
    await backend.enqueue_many([first, other])
    unique = {"unique": "join", "fingerprint": "fp-waiting", "queue": "unique"}
    waiting = await backend.enqueue(step(first, **unique))
    assert waiting.state is WAITING
    joined = await backend.enqueue(step(other, **unique))
    assert joined.joined
    assert joined.id == waiting.id
    outcomes = await backend.dependencies(waiting.id)
    assert [o.job_id for o in outcomes] == [first.id], "a join stores no edges"
    skip = await backend.enqueue(
        new_job(unique="skip", fingerprint="fp-waiting", record_skipped=False)
    )
    assert skip.skipped
    assert skip.id == waiting.id
    await end(backend, first)
    assert (await stored(backend, waiting.id)).state is PENDING


async def test_a_waiting_job_is_explained_by_the_jobs_it_waits_for(backend: Backend) -> None:
    a, b, c = step(), step(), step()
    waiting = step(a, b, c, tolerate=1)
    await backend.enqueue_many([a, b, c, waiting])
    await end(backend, a, "failed")
    explained = await backend.blockers(waiting.id, stale_after_s=30)
    assert explained is not None
    assert explained.state is WAITING
    first = explained.reasons[0]
    assert first.kind == "dependencies"
    assert first.job_ids == (b.id, c.id)
    assert first.details["waiting_on"] == 2
    assert (first.details["failed"], first.details["tolerate"]) == (1, 1)
    assert b.id in first.message
    assert "1 ended without completing" in first.message
