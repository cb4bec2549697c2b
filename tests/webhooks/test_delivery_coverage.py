"""Every job with a webhook gets its delivery however it was stored (a workflow's member, a
batch's added job, a cron run), in the transaction that stores the job itself."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from underway import App, JobNotFound, JobState, chain, group
from underway.testing import Clock, drain

from .receiver import Receiver

SECRET = "a-test-secret"


def delivered_ids(receiver: Receiver) -> list[str]:
    return sorted(json.loads(request.body)["id"] for request in receiver.received)


def test_a_workflows_jobs_each_deliver_and_are_not_its_members(
    receiver: Receiver, backend_url: str
) -> None:
    app = App(backend_url, webhook_url=receiver.url, webhook_secret=SECRET)

    @app.job
    def double(x: int) -> int:
        return 2 * x

    @app.job
    def total(results: list[int]) -> int:
        return sum(results)

    try:
        flow = app.start(chain(group(double.step(1), double.step(2)), total.receiving().step()))
        waiting = app.list(name="underway.webhook")
        assert [job.state for job in waiting] == [JobState.WAITING] * 3
        assert all(job.workflow_id is None for job in waiting)
        drain(app)
        assert flow.status().state == "completed"
        assert flow.status().total == 3
        assert delivered_ids(receiver) == sorted(job.id for job in flow.jobs())
    finally:
        app.close()


def test_a_batchs_added_jobs_deliver(receiver: Receiver) -> None:
    app = App("memory://", webhook_url=receiver.url, webhook_secret=SECRET)

    @app.job
    def noted(n: int) -> int:
        return n

    batch = app.batch([noted.step(1)])
    added = app.add_to_batch(batch.id, [noted.step(2)])
    drain(app)
    assert delivered_ids(receiver) == sorted([*(j.id for j in batch.jobs()[:1]), added[0].id])


def test_a_cron_run_delivers(receiver: Receiver) -> None:
    clock = Clock()
    app = App("memory://", clock=clock, webhook_url=receiver.url, webhook_secret=SECRET)

    @app.job(cron="*/5 * * * *")
    def tick() -> str:
        return "ticked"

    drain(app)
    clock.advance(timedelta(minutes=5))
    drain(app)
    [run] = app.list(name="tick")
    assert run.state is JobState.COMPLETED
    assert delivered_ids(receiver) == [run.id]
    assert json.loads(receiver.received[0].body)["result"] == "ticked"


@pytest.mark.parametrize("unique", [None, "join"])
def test_a_job_and_its_delivery_are_stored_in_one_transaction(
    backend_url: str, unique: str | None
) -> None:
    """A delivery that cannot be stored (here: it waits for a job that does not exist)
    leaves no job behind, for a unique job as for any."""
    app = App(backend_url, webhook_url="http://127.0.0.1:9/hooks", webhook_secret=SECRET)

    @app.job(unique=unique)  # type: ignore[call-overload]
    def work(x: int) -> int:
        return x

    try:
        new = app.definition("work").new_job({"x": 1})
        [delivery] = app.deliveries_for(new)
        broken = dataclasses.replace(delivery, after=("no-such-job",))
        backend = app.runtime.call(app.backend())
        with pytest.raises(JobNotFound):
            app.runtime.call(backend.enqueue(dataclasses.replace(new, followers=(broken,))))
        assert app.list() == []
    finally:
        app.close()
