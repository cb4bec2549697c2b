"""Conformance: a unique="queue" job bounded by queue_limit keeps at most that many runs with
the same arguments waiting; a request beyond it is skipped (recorded) or refused."""

from __future__ import annotations

import asyncio

import pytest

from underway.backends.base import Backend
from underway.errors import QueueFull
from underway.models import JobState

from .support import WORKER, unique_job


async def test_beyond_the_limit_a_request_is_recorded_as_skipped(backend: Backend) -> None:
    first = await backend.enqueue(unique_job("queue", queue_limit=2))
    second = await backend.enqueue(unique_job("queue", queue_limit=2))
    third = await backend.enqueue(unique_job("queue", queue_limit=2))
    assert (first.job.state, second.job.state) == (JobState.PENDING, JobState.PENDING)
    assert third.skipped
    assert third.job.state is JobState.SKIPPED
    assert third.job.skip_reason == "queue_limit 2 reached: 2 runs wait"
    assert third.job.duplicate_of in {first.job.id, second.job.id}


async def test_beyond_the_limit_a_request_can_be_refused(backend: Backend) -> None:
    await backend.enqueue(unique_job("queue", queue_limit=1, queue_full="raise"))
    with pytest.raises(QueueFull, match="1 runs with the same arguments already wait"):
        await backend.enqueue(unique_job("queue", queue_limit=1, queue_full="raise"))


async def test_a_run_that_started_leaves_room_for_another(backend: Backend) -> None:
    await backend.enqueue(unique_job("queue", queue_limit=1))
    [started] = await backend.claim(WORKER, ["default"], 5)
    again = await backend.enqueue(unique_job("queue", queue_limit=1))
    assert again.job.state is JobState.PENDING
    other_arguments = await backend.enqueue(unique_job("queue", "fp-2", queue_limit=1))
    assert other_arguments.job.state is JobState.PENDING
    assert started.id != again.job.id


async def test_racing_requests_never_exceed_the_limit(
    backend: Backend, other_backend: Backend
) -> None:
    results = await asyncio.gather(
        *(
            b.enqueue(unique_job("queue", queue_limit=3))
            for _ in range(6)
            for b in (backend, other_backend)
        )
    )
    assert sum(not r.skipped for r in results) == 3
