"""An outcome the database refuses for good fails only its own job: the writer goes on."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from tests.conftest import memory_url
from underway import App, JobState
from underway.models import Outcome
from underway.testing import drain


def refusing(app: App, monkeypatch: pytest.MonkeyPatch, poison: set[str], always: bool) -> None:
    """Make the backend's finish raise a non-transient error for a batch holding a poison
    job's outcome: its first outcome only, or (`always`) the failure recorded instead too."""
    backend = app.runtime.call(app.backend())
    finish = backend.finish

    async def finish_or_refuse(outcomes: Sequence[Outcome]) -> list[bool]:
        for outcome in outcomes:
            if outcome.lease.job_id in poison and (always or outcome.kind != "failed"):
                raise RuntimeError("value too long for the column")
        return await finish(outcomes)

    monkeypatch.setattr(backend, "finish", finish_or_refuse)


@pytest.mark.timeout(20)
def test_a_refused_outcome_fails_its_job_with_the_cause_and_the_rest_are_recorded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(memory_url())

    @app.job
    async def echo(n: int) -> int:
        return n

    handles = [echo.enqueue(n=n) for n in range(6)]
    refusing(app, monkeypatch, {handles[2].id}, always=False)
    try:
        ended = {job.id: job for job in drain(app, concurrency=6)}
        assert [ended[h.id].state for h in handles] == [JobState.COMPLETED] * 2 + [
            JobState.FAILED
        ] + [JobState.COMPLETED] * 3
        error = ended[handles[2].id].error
        assert error is not None
        assert error.type == "UnstorableOutcome"
        assert "RuntimeError: value too long for the column" in error.message
        assert [ended[h.id].result for h in handles if h is not handles[2]] == [0, 1, 3, 4, 5]
        assert "could not be stored" in caplog.text
    finally:
        app.close()


@pytest.mark.timeout(20)
def test_an_outcome_that_cannot_be_recorded_at_all_leaves_its_job_to_the_sweeper(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing stored for it, the job stays running under its lease, to be taken back once
    its heartbeats stop: it runs again rather than being lost. The drain still ends."""
    app = App(memory_url())

    @app.job
    async def echo(n: int) -> int:
        return n

    handles = [echo.enqueue(n=n) for n in range(3)]
    refusing(app, monkeypatch, {handles[1].id}, always=True)
    caplog.set_level(logging.WARNING, logger="underway.worker")
    try:
        ended = {job.id: job for job in drain(app, concurrency=3)}
        assert [ended[h.id].state for h in handles] == [
            JobState.COMPLETED,
            JobState.RUNNING,
            JobState.COMPLETED,
        ]
        assert "worker stopped before its outcome was known saved" in caplog.text
    finally:
        app.close()
