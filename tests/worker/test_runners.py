"""A runner goes on to its next job while its last job's outcome is written, and that job
stays held by the worker until the write ends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.conftest import memory_url
from tests.waiting import eventually
from underway import App, WorkerSettings
from underway.models import Job, Outcome
from underway.worker import Worker


def test_a_runner_takes_its_next_job_while_its_last_outcome_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outcome writes wait here until all four jobs ran: the second claim's two jobs run in
    the two runners the first claim's jobs ran in, while those jobs are still held."""
    app = App(memory_url())
    ran_in: dict[int, asyncio.Task[object] | None] = {}
    held_then: dict[int, set[str]] = {}
    ids: dict[str, int] = {}
    worker: Worker | None = None

    @app.job
    async def note(n: int) -> None:
        assert worker is not None
        ran_in[n] = asyncio.current_task()
        held_then[n] = {ids[job_id] for job_id in worker.executions}

    for n in range(4):
        ids[note.enqueue(n=n).id] = n

    async def burst() -> None:
        nonlocal worker
        backend = await app.backend()
        settings = WorkerSettings(
            concurrency=2, burst=True, poll_interval=0.005, sweeper=False, scheduler=False
        )
        worker = Worker(app, backend, settings)
        finish = backend.finish

        async def all_ran() -> bool:
            return len(ran_in) == 4

        async def finish_once_all_ran(outcomes: Sequence[Outcome]) -> list[bool]:
            await eventually(all_ran)
            return await finish(outcomes)

        monkeypatch.setattr(backend, "finish", finish_once_all_ran)
        await worker.run()

    try:
        app.runtime.call(burst())
        assert len({id(task) for task in ran_in.values()}) == 2
        assert held_then[2] >= {0, 1}
        assert held_then[3] >= {0, 1}
        assert all(job.state == "completed" for job in app.runtime.call(_jobs(app, list(ids))))
    finally:
        app.close()


async def _jobs(app: App, ids: list[str]) -> list[Job]:
    backend = await app.backend()
    return await backend.get_many(ids)
