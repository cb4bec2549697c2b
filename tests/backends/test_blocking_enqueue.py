"""`enqueue_blocking`: a plain job stored from the caller's own thread, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.waiting import eventually
from underway.backends.base import Backend, SystemClock
from underway.backends.sqlite import SQLiteBackend
from underway.errors import StorageUnavailable
from underway.models import JobState

from .support import claim_one, new_job


async def test_a_blocking_enqueue_stores_from_the_callers_thread_and_wakes_every_worker(
    backend: Backend, other_backend: Backend
) -> None:
    here: list[str] = []
    elsewhere: list[str] = []
    backend.subscribe("work", here.append)
    other_backend.subscribe("work", elsewhere.append)  # a worker of another process
    if isinstance(other_backend, SQLiteBackend):
        await asyncio.sleep(0)  # its wake-up socket is bound as it subscribes
    job = new_job()
    stored = await asyncio.to_thread(backend.enqueue_blocking, job)
    assert stored is not None
    assert not stored.joined
    assert stored.job == await backend.get(job.id)
    assert stored.job.state is JobState.PENDING
    await eventually(lambda: asyncio.sleep(0, here and elsewhere))
    assert (await claim_one(backend)).id == job.id


async def test_a_blocking_enqueue_leaves_what_it_cannot_do_to_enqueue(backend: Backend) -> None:
    job = new_job()
    assert await asyncio.to_thread(backend.enqueue_blocking, job) is not None
    # A retried call with the same id, and a job with a uniqueness policy: not plain inserts.
    assert await asyncio.to_thread(backend.enqueue_blocking, job) is None
    unique = new_job(fingerprint="fp", unique="join")
    assert await asyncio.to_thread(backend.enqueue_blocking, unique) is None
    assert await backend.get(unique.id) is None
    assert (await backend.enqueue(job)).job.id == job.id


async def test_a_blocking_enqueue_on_a_closed_sqlite_backend_fails_clearly(tmp_path: Path) -> None:
    backend = SQLiteBackend(f"sqlite:///{tmp_path}/jobs.db", clock=SystemClock())
    await backend.open()
    await backend.close()
    with pytest.raises(StorageUnavailable, match="closed"):
        await asyncio.to_thread(backend.enqueue_blocking, new_job())
