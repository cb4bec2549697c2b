"""Conformance: a bulk action's batch, changed in one transaction; what may not change is left."""

from __future__ import annotations

from underway.backends.base import Backend
from underway.models import JobState

from .support import claim_one, enqueue, run_to_end, state_of, unique_job


async def test_cancelling_a_batch_cancels_what_waits_and_asks_running_jobs_to_stop(
    backend: Backend,
) -> None:
    finished: list[str] = []
    backend.subscribe("finished", finished.append)
    done = await enqueue(backend)
    await run_to_end(backend)
    running = await enqueue(backend)
    await claim_one(backend)
    pending = await enqueue(backend)
    scheduled = await enqueue(backend, delay_s=60)

    batch = [done.id, running.id, pending.id, scheduled.id, "no-such-job"]
    changed = await backend.apply_to_many("cancel", batch)

    assert changed == [running.id, pending.id, scheduled.id]
    assert await state_of(backend, done.id) is JobState.COMPLETED
    assert (await backend.get(running.id)).cancel_requested  # type: ignore[union-attr]
    assert await state_of(backend, pending.id) is JobState.CANCELLED
    assert await state_of(backend, scheduled.id) is JobState.CANCELLED
    assert {pending.id, scheduled.id} <= set(finished)


async def test_a_retry_refused_for_one_job_leaves_the_rest_of_the_batch_retried(
    backend: Backend,
) -> None:
    refused = (await backend.enqueue(unique_job("join"))).job
    await backend.cancel(refused.id)
    await backend.enqueue(unique_job("join"))  # the active duplicate
    cancelled = await enqueue(backend, args={"n": 2})
    await backend.cancel(cancelled.id)
    pending = await enqueue(backend, args={"n": 3})

    changed = await backend.apply_to_many("retry", [refused.id, cancelled.id, pending.id])

    assert changed == [cancelled.id]
    assert await state_of(backend, refused.id) is JobState.CANCELLED
    assert await state_of(backend, cancelled.id) is JobState.PENDING


async def test_deleting_a_batch_cancels_active_jobs_first_and_skips_missing_ones(
    backend: Backend,
) -> None:
    finished: list[str] = []
    backend.subscribe("finished", finished.append)
    done = await enqueue(backend)
    await run_to_end(backend)
    pending = await enqueue(backend)

    changed = await backend.apply_to_many("delete", [done.id, pending.id, "no-such-job"])

    assert changed == [done.id, pending.id]
    assert await backend.get(done.id) is None
    assert await backend.get(pending.id) is None
    assert pending.id in finished
    assert await backend.apply_to_many("delete", []) == []
