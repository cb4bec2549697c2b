"""Conformance: workflows and batches stored, read back, listed and added to, on every backend
(cancelling, retrying and pruning them: `test_workflow_changes`)."""

from __future__ import annotations

import dataclasses

import pytest

from underway.backends.base import Backend
from underway.errors import InvalidStateError, JobNotFound, WorkflowNotFound
from underway.models import JobState, Lease, Outcome
from underway.workflow_models import DependencyOutcome

from .dependency_support import end, member, states, step, stored, workflow

WAITING, PENDING, COMPLETED = JobState.WAITING, JobState.PENDING, JobState.COMPLETED
FAILED, CANCELLED = JobState.FAILED, JobState.CANCELLED


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
