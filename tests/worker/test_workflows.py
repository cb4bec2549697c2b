"""Workflows run by a worker: chains pass results on, groups fan in, failures cancel what
waits on them unless told otherwise, and batch callbacks run once with the batch's summary."""

from __future__ import annotations

import pytest

from underway import (
    App,
    BatchSummary,
    ConfigurationError,
    JobContext,
    JobNotFound,
    JobState,
    ValidationError,
    WorkflowNotFound,
    WorkflowWaitTimeout,
    chain,
    group,
)
from underway.testing import drain


class Boom(Exception):
    pass


def _length(text: str) -> int:
    return len(text)


def _total(counts: list[int]) -> int:
    return sum(counts)


def _double(n: int) -> int:
    return 2 * n


def _explode(text: str) -> int:
    raise Boom(text)


def by_name(app: App, workflow_id: str) -> dict[str, list[JobState]]:
    states: dict[str, list[JobState]] = {}
    for job in app.workflow(workflow_id).jobs():
        states.setdefault(job.name, []).append(job.state)
    return states


def test_a_chain_passes_each_result_to_the_next_step(app: App) -> None:
    length, double = app.job(_length), app.job(_double)
    flow = chain(
        length.step("abcd"),
        double.receiving().step(),
        double.receiving().step(),
    )
    workflow = app.start(flow, name="doubling")
    assert workflow.status().counts == {"pending": 1, "waiting": 2}
    drain(app)
    ended = workflow.status()
    assert (ended.state, ended.progress, ended.name) == ("completed", 100.0, "doubling")
    assert [job.result for job in workflow.jobs()] == [4, 8, 16]


def test_a_group_fans_in_to_a_step_that_receives_all_results_in_order(app: App) -> None:
    length = app.job(_length)
    parts = [length.step(t) for t in ("a", "bb", "ccc", "dddd")]
    received: list[object] = []

    @app.job
    def collect(counts: list[int]) -> None:
        received.append(counts)

    workflow = app.start(chain(group(*parts), collect.receiving().step()))
    drain(app)
    assert received == [[1, 2, 3, 4]]
    assert workflow.status().state == "completed"


def test_a_failure_cancels_what_waits_on_it_with_the_reason(app: App) -> None:
    double = app.job(_double)
    explode = app.job(_explode)
    flow = chain(
        explode.step("no"),
        double.receiving().step(),
        double.receiving().step(),
    )
    workflow = app.start(flow)
    drain(app)
    members = workflow.jobs()
    assert [job.state for job in members] == [
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.CANCELLED,
    ]
    assert members[1].error is not None
    assert members[1].error.type == "DependencyFailed"
    assert workflow.status().state == "failed"


def test_a_step_told_to_run_anyway_sees_which_dependencies_failed(app: App) -> None:
    explode = app.job(_explode)
    length = app.job(_length)
    seen: list[list[tuple[str, JobState]]] = []

    @app.job
    def report(ctx: JobContext) -> None:
        seen.append([(d.name, d.state) for d in ctx.dependencies])

    flow = chain(
        group(length.step("ok"), explode.step("no")),
        report.options(run_if="ended").step(),
    )
    app.start(flow)
    drain(app)
    assert seen == [[("_length", JobState.COMPLETED), ("_explode", JobState.FAILED)]]


def test_a_group_tolerating_one_failure_still_fans_in(app: App) -> None:
    explode = app.job(_explode)
    length = app.job(_length)
    received: list[object] = []

    @app.job
    def collect(counts: list[int | None]) -> None:
        received.append(counts)

    parts = (length.step("aa"), explode.step("x"))
    app.start(chain(group(*parts, tolerate=1), collect.receiving().step()))
    drain(app)
    assert received == [[2, None]]


def test_batch_callbacks_run_once_by_their_rules_with_the_summary(app: App) -> None:
    explode = app.job(_explode)
    length = app.job(_length)
    summaries: list[tuple[str, BatchSummary]] = []

    @app.job
    def on_done(summary: BatchSummary) -> None:
        summaries.append(("complete", summary))

    @app.job
    def on_ok(summary: BatchSummary) -> None:
        summaries.append(("success", summary))

    @app.job
    def on_bad(summary: BatchSummary) -> None:
        summaries.append(("failure", summary))

    members = [length.step("a"), explode.step("b")]
    batch = app.batch(
        members,
        on_complete=on_done.receiving().step(),
        on_success=on_ok.receiving().step(),
        on_failure=on_bad.receiving().step(),
        name="nightly",
    )
    assert batch.kind == "batch"
    drain(app)
    assert sorted(kind for kind, _ in summaries) == ["complete", "failure"]
    summary = summaries[0][1]
    assert (summary.total, summary.completed, summary.failed) == (2, 1, 1)
    assert summary.batch_id == batch.id
    assert by_name(app, batch.id)["on_ok"] == [JobState.CANCELLED]


def test_a_member_adds_jobs_to_its_open_batch(app: App) -> None:
    summaries: list[BatchSummary] = []

    @app.job
    def leaf(n: int) -> int:
        return n

    @app.job
    def spawner(ctx: JobContext, n: int) -> int:
        assert ctx.workflow_id is not None
        app.add_to_batch(ctx.workflow_id, [leaf.step(k) for k in range(n)])
        return n

    @app.job
    def finished(summary: BatchSummary) -> None:
        summaries.append(summary)

    batch = app.batch([spawner.step(3)], on_complete=finished.receiving().step())
    drain(app)
    assert len(summaries) == 1
    assert (summaries[0].total, summaries[0].completed) == (4, 4)
    assert batch.status().counts == {"completed": 5}


def test_after_makes_a_single_enqueue_wait_for_existing_jobs(app: App) -> None:
    length = app.job(_length)
    total = app.job(_total)
    first = length.enqueue("abc")
    second = length.enqueue("de")
    waiting = total.receiving().enqueue([first, second.id])
    assert waiting.state is JobState.WAITING
    assert waiting.job.waiting_on == 2
    drain(app)
    assert waiting.result(timeout=5) == 5


def test_bad_workflows_are_refused_before_anything_is_stored(app: App) -> None:
    length, double = app.job(_length), app.job(_double)
    with pytest.raises(ValidationError):
        length.step(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no parameter 'nope'"):
        double.options(results_into="nope").step(1)
    with pytest.raises(ConfigurationError, match="nothing comes before it"):
        app.start(double.receiving().step())
    with pytest.raises(ConfigurationError, match="need after="):
        double.options(results_into="n").enqueue()  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="at least one part"):
        chain()
    with pytest.raises(JobNotFound):
        double.options(after=["0190-no-such-job"]).enqueue(1)
    assert app.list() == []
    assert app.workflows().total == 0
    with pytest.raises(WorkflowNotFound):
        app.workflow("no-such-workflow")


def test_cancelling_a_workflow_cancels_what_has_not_run(app: App) -> None:
    double = app.job(_double)
    length = app.job(_length)
    flow = chain(length.step("a"), double.receiving().step())
    workflow = app.start(flow)
    cancelled = workflow.cancel()
    assert cancelled.state == "cancelled"
    assert cancelled.counts == {"cancelled": 2}
    assert drain(app) == []


def test_retrying_a_workflow_runs_again_only_what_failed_and_what_it_cancelled(app: App) -> None:
    attempts: list[str] = []

    @app.job
    def flaky(text: str) -> str:
        attempts.append(text)
        if attempts.count(text) == 1 and text == "b":
            raise Boom(text)
        return text

    @app.job
    def join(parts: list[str]) -> str:
        return "".join(parts)

    flow = chain(group(flaky.step("a"), flaky.step("b")), join.receiving().step())
    workflow = app.start(flow)
    drain(app)
    assert workflow.status().state == "failed"
    retried = workflow.retry()
    assert retried.state == "active"
    drain(app)
    assert attempts == ["a", "b", "b"]
    assert workflow.status().state == "completed"
    assert workflow.jobs()[-1].result == "ab"


def test_waiting_on_a_workflow_times_out_with_its_progress(app: App) -> None:
    length = app.job(_length)
    workflow = app.start(length.step("a"))
    with pytest.raises(WorkflowWaitTimeout, match="0 of 1 jobs ended"):
        workflow.wait(timeout=0.05)
    drain(app)
    assert workflow.wait(timeout=5).state == "completed"


def test_a_member_that_joins_an_active_job_stands_for_it(app: App) -> None:
    """unique="join" applies to members as to any job: the member joins the active run,
    and what follows waits for that run and receives its result."""

    @app.job(unique="join")
    def fetch(n: int) -> int:
        return n * 10

    double = app.job(_double)
    active = fetch.enqueue(4)
    workflow = app.start(chain(fetch.step(4), double.receiving().step()))
    (waiting,) = workflow.jobs()
    assert (waiting.state, waiting.waiting_on) == (JobState.WAITING, 1)
    drain(app)
    assert active.result(timeout=5) == 40
    assert workflow.jobs()[0].result == 80
