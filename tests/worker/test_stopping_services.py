"""A worker's services stop even when the cancel that stops them is lost on the way: Python
3.11's `asyncio.wait_for`, and psycopg_pool's waits built on it, return normally when the
cancel comes just as what they wait on completes. An app's close then hung for its whole
margin (seen on PostgreSQL as a worker stopped just after it started)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import memory_url
from underway import App, JobState
from underway.app.queries import wait_finished
from underway.backends.base import Backend
from underway.models import Lease, Outcome
from underway.stopping import cancel_and_wait
from underway.worker.outcomes import OutcomeWriter
from underway.worker.periodic import PeriodicService

#: Far longer than any test waits: a service still waiting this out has not stopped.
FOREVER_S = 3600.0
#: What a stop may take here: one cancel, lost, then the next.
STOPS_WITHIN_S = 5.0


class LosesTheFirstCancel(PeriodicService):
    """Its first tick waits on something that loses a cancel, as psycopg_pool's can."""

    name = "loses-the-first-cancel"

    def __init__(self) -> None:
        super().__init__(interval_s=FOREVER_S)
        self.ticking = asyncio.Event()
        self.lost = 0

    async def tick(self) -> None:
        if self.lost:
            return
        self.ticking.set()
        try:
            await asyncio.sleep(FOREVER_S)
        except asyncio.CancelledError:
            self.lost += 1


async def stops(stopping: Coroutine[Any, Any, None]) -> None:
    """Run a stop; fail if it has not ended in time (it is then left waiting, not cancelled:
    a cancel would end the old stops, which swallowed it)."""
    stop = asyncio.ensure_future(stopping)
    done, _ = await asyncio.wait({stop}, timeout=STOPS_WITHIN_S)
    assert done, f"the stop still waits after {STOPS_WITHIN_S:g} s"
    stop.result()


def test_a_service_stops_though_a_cancel_is_lost_in_its_tick() -> None:
    async def scenario() -> int:
        service = LosesTheFirstCancel()
        service.start()
        await service.ticking.wait()
        await stops(service.stop())
        return service.lost

    assert asyncio.run(scenario()) == 1


def test_a_service_woken_as_it_is_stopped_stops() -> None:
    """A wake-up and a stop in the same moment: `wait_for` gave the wake-up back, not the
    cancel, and the service waited out its interval again."""

    async def scenario() -> None:
        service = LosesTheFirstCancel()
        service.lost = 1  # ticks return at once: it waits for a wake-up or its interval
        service.start()
        await asyncio.sleep(0)  # it is waiting now
        service.wake()
        await stops(service.stop())

    asyncio.run(scenario())


class FinishLosesACancel:
    """A backend whose outcome writes lose the first cancel that reaches them."""

    def __init__(self) -> None:
        self.writing = asyncio.Event()
        self.lost = 0

    async def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        self.writing.set()
        try:
            await asyncio.sleep(FOREVER_S)
        except asyncio.CancelledError:
            self.lost += 1
        return [True] * len(outcomes)


def test_the_outcome_writer_stops_though_its_write_loses_the_cancel() -> None:
    async def scenario() -> list[bool | None]:
        backend = FinishLosesACancel()
        writer = OutcomeWriter(backend)  # type: ignore[arg-type]
        told: list[bool | None] = []
        writer.start()
        writer.write(Outcome(Lease("job", 1, "worker"), "completed"), told.append)
        await backend.writing.wait()
        await stops(writer.stop())
        assert backend.lost == 1
        return told

    assert asyncio.run(scenario()) == [True]


def test_cancel_and_wait_raises_what_the_task_raised_instead() -> None:
    async def scenario() -> None:
        async def fails_as_it_stops() -> None:
            try:
                await asyncio.sleep(FOREVER_S)
            finally:
                raise RuntimeError("could not close")

        task = asyncio.ensure_future(fails_as_it_stops())
        await asyncio.sleep(0)
        await cancel_and_wait(task)

    with pytest.raises(RuntimeError, match="could not close"):
        asyncio.run(scenario())


@pytest.fixture(params=["sqlite", "memory"])
def announcing_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    """An app whose backend announces a finish in the same call that writes it (PostgreSQL's
    comes later, through its LISTEN connection, and seldom meets the moment tested)."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else memory_url()
    with App(url) as app:
        yield app


def test_waiting_for_a_job_ends_when_cancelled_as_the_job_finishes(announcing_app: App) -> None:
    """The wait is cancelled in the same moment as the job's finish is announced: the wait
    ends cancelled, not with the job."""
    app = announcing_app

    @app.job
    def quick() -> None:
        return None

    handle = quick.enqueue()

    async def scenario(backend: Backend) -> bool:
        waiting = asyncio.ensure_future(wait_finished(backend, handle.id, None))
        await asyncio.sleep(0.05)  # it found the job pending and waits for an announcement
        unsubscribe = backend.subscribe("finished", lambda _: waiting.cancel())
        try:
            [claimed] = await backend.claim("w", ["default"], 1)
            await backend.finish([Outcome(Lease(claimed.id, 1, "w"), "completed")])
            await asyncio.wait({waiting}, timeout=STOPS_WITHIN_S)
        finally:
            unsubscribe()
        return waiting.cancelled()

    async def on_the_apps_loop() -> bool:
        return await scenario(await app.backend())

    assert app.runtime.call(on_the_apps_loop())
    assert app.get(handle.id).state is JobState.COMPLETED
