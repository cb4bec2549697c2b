"""A burst worker (what `underway.testing.drain` runs) ends once nothing is due or running,
and only then."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import memory_url
from tests.waiting import eventually
from underway import App, JobContext, WorkerSettings
from underway.models import ClaimedJob
from underway.worker import Worker


def test_a_burst_claims_again_when_a_job_ended_during_its_empty_claim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A drain's claim may read the jobs just before a running job's snooze (due now) is
    written, and answer nothing after that job ended: the drain must claim again, not stop
    as if nothing were due. Each empty claim here answers only once the running job ended."""
    app = App(memory_url())

    @app.job
    def spin(ctx: JobContext) -> int:
        if ctx.attempt <= 3:
            ctx.snooze(0)
        return ctx.attempt

    handle = spin.enqueue()

    async def burst() -> None:
        backend = await app.backend()
        settings = WorkerSettings(burst=True, poll_interval=0.005, sweeper=False, scheduler=False)
        worker = Worker(app, backend, settings)
        claim = backend.claim

        async def nothing_running() -> bool:
            return not worker.executions

        async def claim_answering_after_the_end(*args: Any) -> list[ClaimedJob]:
            jobs = await claim(*args)
            if not jobs:
                await eventually(nothing_running)
            return jobs

        monkeypatch.setattr(backend, "claim", claim_answering_after_the_end)
        await worker.run()

    try:
        app.runtime.call(burst())
        assert handle.result(timeout=1) == 4
    finally:
        app.close()
