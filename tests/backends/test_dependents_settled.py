"""Conformance: every change that ends a job counts it on its dependents in the same
transaction: a cancel (asked or as it finishes), a requeue, a sweep, a delete, a retry on its
own; on every backend."""

from __future__ import annotations

from underway.backends.base import Backend
from underway.models import JobState, Lease, Outcome

from .dependency_support import end, start, states, step, stored
from .support import clock_moves_on

WAITING, PENDING = JobState.WAITING, JobState.PENDING
CANCELLED = JobState.CANCELLED


async def test_a_job_cancelled_by_request_as_it_finishes_cancels_its_dependents(
    backend: Backend,
) -> None:
    first = step()
    then = step(first)
    await backend.enqueue_many([first, then])
    _, held = await start(backend, first)
    await backend.cancel(first.id)
    assert await backend.finish([Outcome(held, "completed")]) == [True]
    assert await states(backend, first, then) == [CANCELLED, CANCELLED]


async def test_a_cancel_request_wins_in_a_batch_of_completions_for_the_dependents_too(
    backend: Backend,
) -> None:
    a, b = step(queue="both"), step(queue="both")
    after_a, after_b = step(a), step(b)
    await backend.enqueue_many([a, b, after_a, after_b])
    claimed = await backend.claim("w", ["both"], 2)
    await backend.cancel(a.id)
    outcomes = [Outcome(Lease(c.id, c.attempt, "w"), "completed") for c in claimed]
    assert await backend.finish(outcomes) == [True, True]
    assert await states(backend, a, after_a, b, after_b) == [
        CANCELLED,
        CANCELLED,
        JobState.COMPLETED,
        PENDING,
    ]


async def test_cancel_settles_the_job_it_cancels(backend: Backend) -> None:
    first = step()
    then = step(first)
    anyway = step(first, dependency_rule="ended")
    after_then = step(then)
    await backend.enqueue_many([first, then, anyway, after_then])
    await backend.cancel(first.id)
    assert await states(backend, then, anyway, after_then) == [CANCELLED, PENDING, CANCELLED]


async def test_a_waiting_job_can_be_cancelled_and_so_are_its_dependents(
    backend: Backend,
) -> None:
    first = step()
    then, after_then = step(first), step()
    after_then = step(then)
    await backend.enqueue_many([first, then, after_then])
    cancelled = await backend.cancel(then.id)
    assert cancelled.state is CANCELLED
    assert await states(backend, first, after_then) == [PENDING, CANCELLED]
    await end(backend, first)
    assert await states(backend, then) == [CANCELLED], "a cancelled job stays cancelled"


async def test_a_job_cancelled_while_waiting_waits_again_when_retried(backend: Backend) -> None:
    first = step()
    then = step(first)
    await backend.enqueue_many([first, then])
    await backend.cancel(then.id)
    retried = await backend.retry(then.id)
    assert (retried.state, retried.waiting_on) == (WAITING, 1)
    await end(backend, first)
    assert await states(backend, then) == [PENDING]


async def test_a_requeue_that_cancels_settles_the_job(backend: Backend) -> None:
    first = step()
    anyway = step(first, dependency_rule="ended")
    await backend.enqueue_many([first, anyway])
    _, held = await start(backend, first)
    await backend.cancel(first.id)
    assert await backend.requeue([held]) == 0
    assert await states(backend, first, anyway) == [CANCELLED, PENDING]


async def test_a_requeue_that_puts_back_settles_nothing(backend: Backend) -> None:
    first = step()
    then = step(first)
    await backend.enqueue_many([first, then])
    _, held = await start(backend, first)
    assert await backend.requeue([held]) == 1
    assert await states(backend, first, then) == [PENDING, WAITING]


async def test_a_sweep_that_fails_a_lost_job_settles_it(backend: Backend) -> None:
    lost, asked = step(), step()
    then, anyway = step(lost), step(asked, dependency_rule="ended")
    await backend.enqueue_many([lost, asked, then, anyway])
    await start(backend, lost)
    await start(backend, asked)
    await backend.cancel(asked.id)
    await clock_moves_on()
    result = await backend.sweep(stall_timeout_s=0, max_losses=1)
    assert (result.failed, result.cancelled) == (1, 1)
    assert await states(backend, lost, then) == [JobState.FAILED, CANCELLED]
    assert await states(backend, asked, anyway) == [CANCELLED, PENDING]


async def test_a_deleted_dependency_counts_as_cancelled(backend: Backend) -> None:
    first = step()
    then = step(first)
    anyway = step(first, dependency_rule="ended")
    await backend.enqueue_many([first, then, anyway])
    assert await backend.delete(first.id)
    assert await states(backend, then, anyway) == [CANCELLED, PENDING]
    outcomes = await backend.dependencies(anyway.id)
    assert [(o.job_id, o.name, o.state, o.result) for o in outcomes] == [
        (first.id, "?", CANCELLED, None)
    ]


async def test_a_deleted_dependency_that_had_ended_is_not_counted_again(
    backend: Backend,
) -> None:
    first, second = step(), step()
    then = step(first, second)
    await backend.enqueue_many([first, second, then])
    await end(backend, first)
    assert await backend.delete(first.id)
    waiting = await stored(backend, then)
    assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (WAITING, 1, 0)
    await end(backend, second)
    assert await states(backend, then) == [PENDING]


async def test_a_dependency_retried_on_its_own_is_waited_for_again_and_counted_once_more(
    backend: Backend,
) -> None:
    first, second = step(), step()
    tolerant = step(first, second, tolerate=1)
    await backend.enqueue_many([first, second, tolerant])
    await end(backend, first, "failed")
    waiting = await stored(backend, tolerant)
    assert (waiting.waiting_on, waiting.failed_dependencies) == (1, 1)
    await backend.retry(first.id)
    waiting = await stored(backend, tolerant)
    assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (WAITING, 2, 0)
    await end(backend, first)
    waiting = await stored(backend, tolerant)
    assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (WAITING, 1, 0)
    await end(backend, second)
    released = await stored(backend, tolerant)
    assert (released.state, released.waiting_on, released.failed_dependencies) == (PENDING, 0, 0)
    outcomes = await backend.dependencies(tolerant.id)
    assert [o.state for o in outcomes] == [JobState.COMPLETED, JobState.COMPLETED]


async def test_a_deleted_dependent_leaves_nothing_behind(backend: Backend) -> None:
    first = step()
    then = step(first)
    await backend.enqueue_many([first, then])
    assert await backend.delete(then.id)
    assert await backend.dependencies(then.id) == []
    assert (await end(backend, first)).state is JobState.COMPLETED
