"""Conformance: workflows and batches cancelled, retried, and taken apart by deletes and
pruning, on every backend."""

from __future__ import annotations

import pytest

from underway.backends.base import Backend
from underway.errors import WorkflowNotFound
from underway.models import JobState

from .dependency_support import end, member, start, states, step, stored, workflow
from .support import clock_moves_on

WAITING, PENDING, COMPLETED = JobState.WAITING, JobState.PENDING, JobState.COMPLETED
CANCELLED = JobState.CANCELLED


async def test_cancelling_a_workflow_cancels_what_has_not_started(backend: Backend) -> None:
    asked: list[str] = []
    finished: list[str] = []
    backend.subscribe("cancel", asked.append)
    backend.subscribe("finished", finished.append)
    flow = workflow()
    done, running, pending = member(flow), member(flow), member(flow)
    later = member(flow, delay_s=60)
    waiting = member(flow, running)
    await backend.start_workflow(flow, [done, running, pending, later, waiting])
    outside = step(waiting, dependency_rule="ended")
    await backend.enqueue(outside)
    await end(backend, done)
    await start(backend, running)

    cancelled = await backend.cancel_workflow(flow.id)
    assert cancelled.counts == {"completed": 1, "running": 1, "cancelled": 3}
    assert await states(backend, pending, later, waiting) == [CANCELLED] * 3
    still = await stored(backend, running)
    assert (still.state, still.cancel_requested) == (JobState.RUNNING, True)
    assert set(asked) == {running.id}
    assert {pending.id, later.id, waiting.id} <= set(finished)
    assert await states(backend, outside) == [PENDING], "what waits outside is settled"
    with pytest.raises(WorkflowNotFound):
        await backend.cancel_workflow("no-such-workflow")


async def test_retrying_a_workflow_runs_again_what_failed_or_was_cancelled(
    backend: Backend,
) -> None:
    flow = workflow()
    ok = member(flow)
    first = member(flow, max_attempts=1)
    second = member(flow, first)
    third = member(flow, second)
    await backend.start_workflow(flow, [ok, first, second, third])
    await end(backend, ok, result="kept")
    await end(backend, first, "failed")
    failed = await backend.get_workflow(flow.id)
    assert failed is not None
    assert failed.state == "failed"
    assert failed.counts == {"completed": 1, "failed": 1, "cancelled": 2}

    retried = await backend.retry_workflow(flow.id)
    assert retried.counts == {"completed": 1, "pending": 1, "waiting": 2}
    again = await stored(backend, first)
    assert (again.attempt, again.max_attempts, again.finished_at) == (1, 2, None)
    for job in (second, third):
        waiting = await stored(backend, job)
        assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (WAITING, 1, 0)
        assert waiting.finished_at is None
    kept = await stored(backend, ok)
    assert (kept.state, kept.result) == (COMPLETED, "kept")

    for job in (first, second, third):
        await end(backend, job)
    assert (await backend.retry_workflow(flow.id)).state == "completed"
    with pytest.raises(WorkflowNotFound):
        await backend.retry_workflow("no-such-workflow")


async def test_a_retry_makes_jobs_still_waiting_wait_again(backend: Backend) -> None:
    flow = workflow()
    broken, slow = member(flow), member(flow)
    anyway = member(flow, broken, slow, dependency_rule="ended")
    await backend.start_workflow(flow, [broken, slow, anyway])
    await end(backend, broken, "failed")
    counted = await stored(backend, anyway)
    assert (counted.waiting_on, counted.failed_dependencies) == (1, 1)
    await backend.retry_workflow(flow.id)
    reopened = await stored(backend, anyway)
    assert (reopened.state, reopened.waiting_on, reopened.failed_dependencies) == (WAITING, 2, 0)
    await end(backend, broken)
    await end(backend, slow)
    released = await stored(backend, anyway)
    assert (released.state, released.failed_dependencies) == (PENDING, 0)


async def test_a_retry_leaves_cancelled_what_a_failure_outside_the_workflow_cancels(
    backend: Backend,
) -> None:
    outside = step()
    await backend.enqueue(outside)
    await end(backend, outside, "failed")
    flow = workflow()
    inside = member(flow)
    then = member(flow, outside, inside)
    await backend.start_workflow(flow, [inside, then])
    await end(backend, inside, "failed")
    before = await stored(backend, then)
    assert before.state is CANCELLED
    await backend.retry_workflow(flow.id)
    after = await stored(backend, then)
    assert (after.state, after.finished_at, after.error) == (
        CANCELLED,
        before.finished_at,
        before.error,
    )
    assert (after.waiting_on, after.failed_dependencies) == (1, 1)
    await end(backend, inside)
    counted = await stored(backend, then)
    assert (counted.state, counted.waiting_on, counted.failed_dependencies) == (CANCELLED, 0, 1)


async def test_a_retry_leaves_a_released_callback_as_it_is(backend: Backend) -> None:
    batch = workflow("batch")
    flaky = member(batch)
    on_complete = member(batch, flaky, dependency_rule="ended")
    await backend.start_workflow(batch, [flaky, on_complete])
    await end(backend, flaky, "failed")
    await end(backend, on_complete, result="reported")
    await backend.retry_workflow(batch.id)
    assert await states(backend, flaky, on_complete) == [PENDING, COMPLETED]


# -- pruning -------------------------------------------------------------------------------


async def test_a_member_deleted_leaves_its_workflow_which_goes_once_the_rest_are_pruned(
    backend: Backend,
) -> None:
    flow = workflow()
    deleted, finished, done_too = (member(flow, retention_s=0.0) for _ in range(3))
    await backend.start_workflow(flow, [deleted, finished, done_too])
    assert await backend.delete(deleted.id)
    listed = await backend.get_workflow(flow.id)
    assert listed is not None
    assert (listed.counts, listed.total) == ({"pending": 2}, 2)
    assert [job.id for job in await backend.workflow_jobs(flow.id)] == [finished.id, done_too.id]
    await end(backend, finished)
    await end(backend, done_too)
    await clock_moves_on()
    assert await backend.prune() == 2
    assert await backend.get_workflow(flow.id) is None
    assert await backend.workflow_jobs(flow.id) == []


async def test_a_workflow_pruned_over_two_rounds_goes_with_its_last_member(
    backend: Backend,
) -> None:
    flow = workflow()
    early, late = member(flow, retention_s=0.0), member(flow, retention_s=0.0)
    await backend.start_workflow(flow, [early, late])
    await end(backend, early)
    await clock_moves_on()
    assert await backend.prune() == 1
    assert [job.id for job in await backend.workflow_jobs(flow.id)] == [late.id]
    await end(backend, late)
    await clock_moves_on()
    assert await backend.prune() == 1
    assert await backend.get_workflow(flow.id) is None


async def test_a_pruned_dependency_counts_as_it_ended_when_the_workflow_is_retried(
    backend: Backend,
) -> None:
    flow = workflow()
    early, late = member(flow, retention_s=0.0), member(flow)
    fan_in = member(flow, early, late)
    await backend.start_workflow(flow, [early, late, fan_in])
    await end(backend, early)
    await clock_moves_on()
    assert await backend.prune() == 1
    await end(backend, late, "failed")
    assert await states(backend, fan_in) == [CANCELLED]
    await backend.retry_workflow(flow.id)
    waiting = await stored(backend, fan_in)
    assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (WAITING, 1, 0)
    await end(backend, late)
    assert await states(backend, fan_in) == [PENDING]


async def test_a_member_deleted_before_it_ended_counts_as_cancelled_when_retried_again(
    backend: Backend,
) -> None:
    flow = workflow()
    deleted, kept = member(flow), member(flow)
    anyway = member(flow, deleted, kept, dependency_rule="ended")
    await backend.start_workflow(flow, [deleted, kept, anyway])
    assert await backend.delete(deleted.id)
    await end(backend, kept, "failed")
    await end(backend, anyway, "failed")
    await backend.retry_workflow(flow.id)
    waiting = await stored(backend, anyway)
    assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (WAITING, 1, 1)
    await end(backend, kept)
    released = await stored(backend, anyway)
    assert (released.state, released.waiting_on, released.failed_dependencies) == (PENDING, 0, 1)


async def test_prune_removes_edges_and_the_workflows_left_empty(backend: Backend) -> None:
    gone, kept = workflow(), workflow()
    first = member(gone, retention_s=0.0)
    then = member(gone, first, retention_s=0.0)
    await backend.start_workflow(gone, [first, then])
    stays = member(kept, retention_s=0.0)
    await backend.start_workflow(kept, [stays, member(kept)])
    await end(backend, first)
    await end(backend, then)
    await end(backend, stays)
    await clock_moves_on()
    assert await backend.prune() == 3
    assert await backend.get_workflow(gone.id) is None
    assert await backend.dependencies(then.id) == []
    left = await backend.get_workflow(kept.id)
    assert left is not None
    assert left.counts == {"pending": 1}
