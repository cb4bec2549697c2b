"""Closing an app with in-process workers: their jobs get the whole shutdown grace, and a
close that cannot end says what it is still waiting on, then cancels it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fast_settings
from underway import App, JobState
from underway.app import running_worker


def test_close_gives_running_jobs_the_whole_shutdown_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(running_worker, "STOP_MARGIN_S", 0.2)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = App(url)
    began = threading.Event()

    @app.job
    async def report() -> str:
        began.set()
        await asyncio.sleep(1.0)
        return "written"

    app.start_worker(fast_settings(shutdown_grace=10.0))
    handle = report.enqueue()
    assert began.wait(10)
    app.close()
    with App(url) as reopened:
        job = reopened.get(handle.id)
    assert (job.state, job.result) == (JobState.COMPLETED, "written")


def test_a_close_that_cannot_end_names_what_it_waits_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(running_worker, "STOP_MARGIN_S", 0.5)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = App(url)
    never = asyncio.Event()
    unwound = threading.Event()

    @app.lifespan
    async def connections_that_never_close(app: App) -> AsyncIterator[dict[str, Any]]:
        yield {}
        try:
            await never.wait()
        finally:
            unwound.set()

    app.start_worker(fast_settings(shutdown_grace=0.0))
    with pytest.raises(TimeoutError, match=r"did not stop within 0\.5 s") as caught:
        app.close()
    assert "connections_that_never_close" in str(caught.value)
    assert unwound.is_set(), "the stuck task is cancelled, not left to the garbage collector"
    with App(url) as reopened:
        assert reopened.workers() == [], "the worker unregistered as it unwound"


def test_a_job_that_catches_every_cancel_is_handed_back_and_does_not_hold_the_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the grace, a job that swallows each cancel is handed back and left running: the
    worker stops (a close that waited for it failed after its whole margin)."""
    monkeypatch.setattr(running_worker, "STOP_MARGIN_S", 5.0)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = App(url)
    began = threading.Event()

    @app.job
    async def stubborn() -> None:
        began.set()
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    app.start_worker(fast_settings(shutdown_grace=0.5))
    handle = stubborn.enqueue()
    assert began.wait(10)
    app.close()
    assert f"job {handle.id} attempt 1 did not stop when asked" in caplog.text
    assert "1 job(s) ignore every cancel: left running" in caplog.text
    assert "self-fencing" not in caplog.text, "a handed-back lease is not the worker's to fence"
    with App(url) as reopened:
        job = reopened.get(handle.id)
    assert (job.state, job.attempt) == (JobState.PENDING, 0)
