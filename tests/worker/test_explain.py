"""`app.explain`: what holds a job declared with concurrency options, as a worker runs them."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import App, JobNotFound, JobState


def test_explain_names_the_key_and_the_job_that_holds_a_job(app: App) -> None:
    release = threading.Event()

    @app.job(concurrency=1, concurrency_key="tenant")
    async def send(tenant: str, n: int) -> int:
        while not release.is_set():  # noqa: ASYNC110 (a threading.Event, set by the test)
            await asyncio.sleep(0.01)
        return n

    app.start_worker(fast_settings())
    running = send.enqueue(tenant="acme", n=1)
    wait_until(lambda: app.get(running.id).state is JobState.RUNNING)
    waiting = send.enqueue(tenant="acme", n=2)
    other = send.enqueue(tenant="globex", n=3)

    [reason] = app.explain(waiting.id).reasons
    assert reason.kind == "concurrency_key"
    assert reason.message == (
        f'concurrency key job:send:"acme" is full: 1/1 running ({running.id})'
    )
    wait_until(lambda: app.get(other.id).state is not JobState.PENDING)

    release.set()
    assert waiting.result(timeout=10) == 2
    assert [r.kind for r in app.explain(waiting.id).reasons] == ["not_waiting"]


def test_explain_async_of_a_unique_queue_job_names_its_same_arguments_run(app: App) -> None:
    release = threading.Event()

    @app.job(unique="queue")
    async def sync_account(account: int) -> None:
        while not release.is_set():  # noqa: ASYNC110 (a threading.Event, set by the test)
            await asyncio.sleep(0.01)

    app.start_worker(fast_settings())
    first = sync_account.enqueue(account=7)
    wait_until(lambda: app.get(first.id).state is JobState.RUNNING)
    second = sync_account.enqueue(account=7)

    explanation = app.runtime.call(app.explain_async(second.id))

    assert [(r.kind, r.job_ids) for r in explanation.reasons] == [("unique_queue", (first.id,))]
    release.set()


def test_explain_of_an_unknown_job_raises_job_not_found(app: App) -> None:
    with pytest.raises(JobNotFound):
        app.explain("no-such-job")
