"""Conformance: workflows and batches stored, read, cancelled, retried and pruned, on every
backend."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from underway.backends.base import Backend
from underway.errors import InvalidStateError, JobNotFound, WorkflowNotFound
from underway.models import JobState, Lease, NewJob, Outcome
from underway.workflow_models import DependencyOutcome, NewWorkflow

from .dependency_support import end, start, states, step, stored
from .support import clock_moves_on

WAITING, PENDING, COMPLETED = JobState.WAITING, JobState.PENDING, JobState.COMPLETED
FAILED, CANCELLED = JobState.FAILED, JobState.CANCELLED


def workflow(kind: str = "workflow", name: str | None = "nightly") -> NewWorkflow:
    return NewWorkflow(str(uuid.uuid4()), name, kind)  # type: ignore[arg-type]


def member(flow: NewWorkflow, *after: NewJob, **overrides: object) -> NewJob:
    return step(*after, workflow_id=flow.id, **overrides)


async def test_a_workflow_is_stored_with_its_jobs_and_read_back(backend: Backend) -> None:
    flow = workflow()
    first = member(flow)
    fan_out = [member(flow, first) for _ in range(3)]
    fan_in = member(flow, *fan_out, results_into="results", results_shape="list")
    stored_jobs = await backend.start_workflow(flow, [first, *fan_out, fan_in])
    assert [r.state for r in stored_jobs] == [PENDING, WAITING, WAITING, WAITING, WAITING]
    assert stored_jobs[-1].job == await stored(backend, fan_in)
    assert stored_jobs[-1].job.waiting_on == 3

    found = await backend.get_workflow(flow.id)
    assert found is not None
    assert (found.id, found.name, found.kind) == (flow.id, "nightly", "workflow")
    assert found.counts == {"pending": 1, "waiting": 4}
    assert (found.total, found.state) == (5, "active")
    members = await backend.workflow_jobs(flow.id)
    assert [job.id for job in members] == [first.id, *(j.id for j in fan_out), fan_in.id]
    assert {job.workflow_id for job in members} == {flow.id}
    assert (members[-1].results_into, members[-1].results_shape) == ("results", "list")

    await end(backend, first, result=0)
    for i, job in enumerate(fan_out):
        await end(backend, job, result=i + 1)
    await end(backend, fan_in, result="sum")
    done = await backend.get_workflow(flow.id)
    assert done is not None
    assert (done.counts, done.state, done.progress) == ({"completed": 5}, "completed", 100.0)
    outcomes = await backend.dependencies(fan_in.id)
    expected = [(job.id, i + 1) for i, job in enumerate(fan_out)]
    assert [(o.job_id, o.result) for o in outcomes] == expected


async def test_members_are_stored_as_members_of_the_workflow(backend: Backend) -> None:
    flow = workflow()
    loose = step()
    await backend.start_workflow(flow, [loose])
    assert (await stored(backend, loose)).workflow_id == flow.id


async def test_a_workflow_with_an_unknown_dependency_stores_nothing(backend: Backend) -> None:
    flow = workflow()
    first = member(flow)
    broken = member(flow, first, "no-such-job")  # type: ignore[arg-type]
    with pytest.raises(JobNotFound) as refused:
        await backend.start_workflow(flow, [first, broken])
    assert refused.value.job_id == "no-such-job"
    assert await backend.get_workflow(flow.id) is None
    assert await backend.get(first.id) is None
    assert await backend.get(broken.id) is None


async def test_a_job_may_wait_only_for_jobs_before_it(backend: Backend) -> None:
    flow = workflow()
    later = member(flow)
    early = member(flow, later)
    with pytest.raises(JobNotFound):
        await backend.start_workflow(flow, [early, later])
    assert await backend.get_workflow(flow.id) is None


async def test_a_workflow_may_wait_for_jobs_stored_before(backend: Backend) -> None:
    done, running = step(), step()
    await backend.enqueue_many([done, running])
    await end(backend, done)
    flow = workflow()
    then = member(flow, done, running)
    await backend.start_workflow(flow, [then])
    assert (await stored(backend, then)).waiting_on == 1
    await end(backend, running)
    assert await states(backend, then) == [PENDING]


async def test_members_ended_as_they_are_stored_are_counted_on_those_after_them(
    backend: Backend,
) -> None:
    broken = step()
    await backend.enqueue(broken)
    await end(backend, broken, "failed")
    flow = workflow()
    cancelled = member(flow, broken)
    then = member(flow, cancelled)
    rate = {"rate_key": "k", "rate_limit": 5, "rate_window_s": 1.0}
    anyway = member(flow, cancelled, dependency_rule="ended", **rate)
    notice = member(flow, cancelled, dependency_rule="failed")
    stored_jobs = await backend.start_workflow(flow, [cancelled, then, anyway, notice])
    assert [r.state for r in stored_jobs] == [CANCELLED, CANCELLED, PENDING, PENDING]
    assert [r.job for r in stored_jobs] == [await stored(backend, r.id) for r in stored_jobs]


async def test_a_workflow_stored_again_resolves_to_what_was_stored(backend: Backend) -> None:
    flow = workflow()
    first = member(flow)
    then = member(flow, first)
    await backend.start_workflow(flow, [first, then])
    again = await backend.start_workflow(flow, [first, then])
    assert [r.id for r in again] == [first.id, then.id]
    assert len(await backend.workflow_jobs(flow.id)) == 2
    assert len(await backend.dependencies(then.id)) == 1
    await end(backend, first)
    assert await states(backend, then) == [PENDING]


async def test_a_big_fan_out_and_fan_in_drain(backend: Backend) -> None:
    flow = workflow()
    width = 2000
    fan_out = [member(flow, queue="wide") for _ in range(width)]
    fan_in = member(flow, *fan_out)
    await backend.start_workflow(flow, [*fan_out, fan_in])
    assert (await stored(backend, fan_in)).waiting_on == width
    while claimed := await backend.claim("w", ["wide"], 500):
        held = [Lease(c.id, c.attempt, "w") for c in claimed]
        assert all(await backend.finish([Outcome(lease, "completed") for lease in held]))
    released = await stored(backend, fan_in)
    assert (released.state, released.waiting_on) == (PENDING, 0)
    assert len(await backend.dependencies(fan_in.id)) == width


# -- batches -------------------------------------------------------------------------------


async def test_jobs_added_to_a_batch_are_waited_for_by_its_callbacks(backend: Backend) -> None:
    batch = workflow("batch", None)
    first, second = member(batch), member(batch)
    on_complete = member(batch, first, second, dependency_rule="ended")
    on_success = member(batch, first, second)
    await backend.start_workflow(batch, [first, second, on_complete, on_success])
    await end(backend, first)

    added = await backend.add_to_batch(batch.id, [step(), step()])
    assert [r.state for r in added] == [PENDING, PENDING]
    assert {(await stored(backend, r.id)).workflow_id for r in added} == {batch.id}
    for callback in (on_complete, on_success):
        waiting = await stored(backend, callback)
        assert (waiting.state, waiting.waiting_on) == (WAITING, 3)
        order = [o.job_id for o in await backend.dependencies(callback.id)]
        assert order == [first.id, second.id, *(r.id for r in added)]

    await end(backend, second)
    await end(backend, added[0].id)
    assert await states(backend, on_complete, on_success) == [WAITING, WAITING]
    await end(backend, added[1].id, "failed")
    assert await states(backend, on_complete, on_success) == [PENDING, CANCELLED]
    with pytest.raises(InvalidStateError, match="has ended"):
        await backend.add_to_batch(batch.id, [step()])
    assert len(await backend.workflow_jobs(batch.id)) == 6


async def test_a_batch_without_callbacks_takes_jobs(backend: Backend) -> None:
    batch = workflow("batch")
    await backend.start_workflow(batch, [member(batch)])
    added = await backend.add_to_batch(batch.id, [step()])
    assert [r.state for r in added] == [PENDING]
    found = await backend.get_workflow(batch.id)
    assert found is not None
    assert found.counts == {"pending": 2}


async def test_jobs_are_added_only_to_batches_that_exist(backend: Backend) -> None:
    with pytest.raises(WorkflowNotFound):
        await backend.add_to_batch("no-such-batch", [step()])
    flow = workflow()
    await backend.start_workflow(flow, [member(flow)])
    with pytest.raises(InvalidStateError):
        await backend.add_to_batch(flow.id, [step()])
    assert len(await backend.workflow_jobs(flow.id)) == 1


# -- reads ---------------------------------------------------------------------------------


async def test_workflows_are_listed_newest_first(backend: Backend) -> None:
    flows = [workflow(name=f"flow-{i}") for i in range(3)]
    for flow in flows:
        await backend.start_workflow(flow, [member(flow), member(flow)])
    page = await backend.list_workflows(limit=2)
    assert page.total == 3
    assert [w.id for w in page.workflows] == [flows[2].id, flows[1].id]
    assert page.workflows[0].counts == {"pending": 2}
    rest = await backend.list_workflows(limit=2, offset=2)
    assert [w.name for w in rest.workflows] == ["flow-0"]
    assert await backend.get_workflow("no-such-workflow") is None
    assert await backend.workflow_jobs("no-such-workflow") == []


async def test_dependencies_read_how_each_stands_in_order(backend: Backend) -> None:
    a, b, c = step(), step(), step()
    then = step(c, a, b, dependency_rule="ended")
    await backend.enqueue_many([a, b, c, then])
    await end(backend, a, result={"n": 1})
    await end(backend, b, "failed")
    outcomes = await backend.dependencies(then.id)
    assert [(o.job_id, o.state, o.result) for o in outcomes] == [
        (c.id, PENDING, None),
        (a.id, COMPLETED, {"n": 1}),
        (b.id, FAILED, None),
    ]
    assert outcomes[1].completed
    assert outcomes[2].error is not None
    assert outcomes[2].error.message == "broken"
    assert outcomes[0].name == c.name


async def test_dependencies_read_every_result_as_stored_null_and_falsy_ones_too(
    backend: Backend,
) -> None:
    values: list[object] = [None, 0, False, "", [], {}, "null", 0.5]
    jobs = [step() for _ in values]
    then = step(*jobs)
    await backend.enqueue_many([*jobs, then])
    for job, value in zip(jobs, values, strict=True):
        await end(backend, job, result=value)
    outcomes = await backend.dependencies(then.id)
    assert [o.result for o in outcomes] == values
    assert [type(o.result) for o in outcomes] == [type(v) for v in values]
    assert all(type(o) is DependencyOutcome and o.completed for o in outcomes)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcomes[0].result = 1  # type: ignore[misc]


# -- cancel and retry ----------------------------------------------------------------------


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
