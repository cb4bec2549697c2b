"""A worker cut off from its database gives its leases up on its own clock (R3).

The cut is real: on PostgreSQL a TCP proxy between the worker and the server stops
forwarding (a heartbeat then blocks; it does not fail); on SQLite every storage call of the
process fails while a file exists (UNDERWAY_PARTITION_FILE).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import FAST, fast_settings
from tests.partition_proxy import cuttable
from tests.waiting import wait_until
from underway import App, JobContext, JobState


@contextmanager
def cut_off_app(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[App, Callable[[], None], Callable[[], None]]]:
    """An app whose every connection can be cut; yields (app, cut, restore)."""
    with cuttable(database_url, tmp_path) as switch:
        for name, value in switch.env.items():
            monkeypatch.setenv(name, value)
        app = App(switch.url)
        try:
            yield app, switch.cut, switch.restore
        finally:
            switch.restore()
            app.close()


def test_a_cut_off_worker_stops_its_job_before_the_stall_timeout(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However long a heartbeat blocks, the job stops within stall_timeout of the cut: before
    any sweeper may rescue it."""
    stopped: list[float] = []
    with cut_off_app(database_url, tmp_path, monkeypatch) as (app, cut, restore):

        @app.job
        async def hold(ctx: JobContext) -> None:
            try:
                await asyncio.sleep(30)
            finally:
                stopped.append(time.monotonic())

        handle = hold.enqueue()
        app.start_worker(fast_settings(sweeper=False))
        wait_until(lambda: handle.refresh().state is JobState.RUNNING)
        cut_at = time.monotonic()
        cut()
        wait_until(lambda: stopped, timeout=10)
        restore()
    assert stopped[0] - cut_at < FAST["stall_timeout"]


def test_a_claim_answered_after_a_cut_is_handed_back_at_once(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim sent during a cut reaches PostgreSQL when the cut heals, long after the worker
    would have given its leases up: the jobs go back to the queue at once, without spending
    an attempt, and run right away instead of after the stall timeout."""
    url = str(request.getfixturevalue("pg_url"))
    direct = App(url)
    try:
        with cut_off_app(url, tmp_path, monkeypatch) as (app, cut, restore):

            @app.job
            async def quick() -> int:
                await asyncio.sleep(0.2)  # long enough for a give-up to stop it
                return 1

            direct.registry.update(app.registry)
            app.start_worker(fast_settings())
            wait_until(lambda: direct.workers())
            cut()
            handle = direct.enqueue("quick")
            time.sleep(FAST["stall_timeout"])  # the fault: the cut lasts this long
            restored_at = time.monotonic()
            restore()
            assert handle.result(timeout=10) == 1
            took = time.monotonic() - restored_at
        job = direct.get(handle.id)
        assert job.attempt == 1
        assert job.errors == ()
        assert took < FAST["stall_timeout"]
    finally:
        direct.close()
