"""StalledJobSweeper: every job it takes back from a lost worker gets a line in the worker's
log and one in its own log."""

from __future__ import annotations

import logging
import time

import pytest

from tests.backends.support import new_job
from tests.conftest import fast_settings
from tests.logs import logged
from tests.waiting import wait_until
from underway import App, JobState
from underway.models import Lease, Outcome
from underway.worker.sweeper import StalledJobSweeper


def test_each_job_taken_back_from_a_lost_worker_is_logged_with_its_attempt_and_worker(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="underway")
    backend = app.runtime.call(app.backend())
    job = app.runtime.call(backend.enqueue(new_job(name="fragile", max_attempts=1))).job
    sweeper = StalledJobSweeper(
        backend, interval_s=60, stall_timeout_s=0.0, prune_interval_s=3600, max_losses=2
    )

    def lose_to(worker_id: str) -> None:
        assert len(app.runtime.call(backend.claim(worker_id, ("default",), 1))) == 1
        time.sleep(0.01)  # its heartbeat is now older than the stall timeout of 0 s
        app.runtime.call(sweeper.tick())

    lose_to("w-gone")
    assert logged(caplog, "underway.sweeper", logging.WARNING) == [
        f"job fragile {job.id} attempt 1 lost its worker w-gone; running it again without "
        "spending a retry (loss 1; max_losses is 2)"
    ]
    lose_to("w-gone-too")
    assert logged(caplog, "underway.sweeper", logging.ERROR) == [
        f"job fragile {job.id} attempt 2 lost its worker w-gone-too; failed as WorkerLost: "
        "lost 2 times (max_losses is 2)"
    ]
    own = [(entry.level, entry.message) for entry in app.logs(job.id)]
    assert own == [
        (
            "warning",
            "worker w-gone was lost during attempt 1; the job was put back in the queue "
            "without spending a retry (loss 1; max_losses is 2)",
        ),
        (
            "error",
            "worker w-gone-too was lost during attempt 2; the job was lost 2 times "
            "(max_losses is 2), so it failed",
        ),
    ]


def test_a_jobs_own_max_losses_overrides_the_workers(app: App) -> None:
    @app.job(max_losses=1)
    def fragile() -> str:
        return "ran"

    @app.job
    def sturdy() -> str:
        return "ran"

    backend = app.runtime.call(app.backend())
    fragile_handle, sturdy_handle = fragile.enqueue(), sturdy.enqueue()
    claimed = app.runtime.call(backend.claim("w-gone", ("default",), 2))
    assert {job.id for job in claimed} == {fragile_handle.id, sturdy_handle.id}
    app.start_worker(fast_settings(stall_timeout=0.3, max_losses=3))

    assert sturdy_handle.result(timeout=10) == "ran"
    wait_until(lambda: fragile_handle.refresh().state is JobState.FAILED, timeout=10)
    failed = fragile_handle.refresh()
    assert failed.error is not None
    assert failed.error.type == "WorkerLost"
    assert "max_losses is 1" in failed.error.message
    assert (failed.losses, sturdy_handle.refresh().losses) == (1, 1)


def test_a_failing_history_rollup_does_not_stop_pruning(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    backend = app.runtime.call(app.backend())
    handle = app.runtime.call(backend.enqueue(new_job(retention_s=0.0))).job
    [claimed] = app.runtime.call(backend.claim("w-1", ("default",), 1))
    lease = Lease(claimed.id, claimed.attempt, "w-1")
    app.runtime.call(backend.finish([Outcome(lease=lease, kind="completed")]))

    async def broken(settle_s: float = 0.0) -> int:
        raise RuntimeError("no history today")

    backend.roll_up_history = broken  # type: ignore[method-assign]
    sweeper = StalledJobSweeper(backend, interval_s=60, stall_timeout_s=30, prune_interval_s=0)
    app.runtime.call(sweeper.tick())

    assert app.runtime.call(backend.get(handle.id)) is None, "pruned all the same"
    assert "the history's rollup failed: no history today" in caplog.text
