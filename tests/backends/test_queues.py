"""Conformance: queue limits declared in code, pause and resume, and what a queue shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.waiting import eventually
from underway.backends.base import Backend
from underway.errors import QueueNotFound
from underway.models import QueueInfo, QueueLimits, WorkerInfo

from .support import claim_one, enqueue

LIVE = 60.0


def worker(worker_id: str, *queues: str) -> WorkerInfo:
    now = datetime.now(UTC)
    return WorkerInfo(worker_id, "host", 1, queues, 4, now, now)


async def test_pausing_a_queue_nobody_knows_stores_it_paused(backend: Backend) -> None:
    paused = await backend.pause_queue("not-deployed-yet", by="ops@example.com")

    assert paused.paused
    assert paused.paused_by == "ops@example.com"
    assert paused.paused_at is not None
    assert abs((paused.paused_at - datetime.now(UTC)).total_seconds()) < 30
    assert await backend.get_queue("not-deployed-yet", LIVE) == paused
    assert await backend.list_queues(LIVE) == [paused]


async def test_pausing_a_paused_queue_keeps_when_and_by_whom(backend: Backend) -> None:
    first = await backend.pause_queue("mail", by="alice")
    again = await backend.pause_queue("mail", by="bob")

    assert (again.paused, again.paused_at, again.paused_by) == (True, first.paused_at, "alice")


async def test_resume_clears_the_pause_and_wakes_the_workers(backend: Backend) -> None:
    woken: list[str] = []
    backend.subscribe("work", woken.append)
    await backend.pause_queue("mail")

    resumed = await backend.resume_queue("mail")

    assert (resumed.paused, resumed.paused_at, resumed.paused_by) == (False, None, None)
    assert woken
    assert await backend.get_queue("mail", LIVE) == resumed


async def test_a_queue_with_jobs_but_no_row_can_be_resumed(backend: Backend) -> None:
    await enqueue(backend, queue="mail")

    resumed = await backend.resume_queue("mail")

    assert not resumed.paused
    assert resumed.counts == {"pending": 1}


@pytest.mark.parametrize("name", ["nowhere", "' OR 1=1 --", "a\x00b"])
async def test_a_queue_nothing_is_stored_of_is_not_found(backend: Backend, name: str) -> None:
    await enqueue(backend, queue="mail")

    assert await backend.get_queue(name, LIVE) is None
    with pytest.raises(QueueNotFound):
        await backend.resume_queue(name)
    assert [q.name for q in await backend.list_queues(LIVE)] == ["mail"]


async def test_sync_sets_declared_limits_clears_the_others_and_keeps_pauses(
    backend: Backend,
) -> None:
    await backend.pause_queue("mail", by="ops")
    await backend.sync_queue_limits(
        [
            QueueLimits("mail", concurrency=2, rate_limit=10, rate_window_s=1.0, rate_fixed=True),
            QueueLimits("reports", concurrency=5),
        ]
    )
    mail = await backend.get_queue("mail", LIVE)
    assert mail is not None
    assert (mail.paused, mail.paused_by) == (True, "ops")
    assert (mail.concurrency, mail.rate_limit, mail.rate_window_s, mail.rate_fixed) == (
        2,
        10,
        1.0,
        True,
    )
    reports = await backend.get_queue("reports", LIVE)
    assert reports == QueueInfo("reports", concurrency=5)

    await backend.sync_queue_limits([QueueLimits("reports", rate_limit=3, rate_window_s=60.0)])

    mail = await backend.get_queue("mail", LIVE)
    assert mail is not None
    assert (mail.paused, mail.paused_by) == (True, "ops")
    assert (mail.concurrency, mail.rate_limit, mail.rate_window_s, mail.rate_fixed) == (
        None,
        None,
        None,
        False,
    )
    reports = await backend.get_queue("reports", LIVE)
    assert reports == QueueInfo("reports", rate_limit=3, rate_window_s=60.0)


async def test_a_queue_shows_its_jobs_per_state_and_the_attempts_just_started(
    backend: Backend,
) -> None:
    first = await enqueue(backend, queue="mail")
    second = await enqueue(backend, queue="mail")
    await enqueue(backend, queue="mail", delay_s=3600)
    await enqueue(backend, queue="other")
    running = await claim_one(backend, queues=("mail",))

    mail = await backend.get_queue("mail", LIVE)

    assert mail is not None
    assert running.id == first.id
    assert mail.counts == {"pending": 1, "running": 1, "scheduled": 1}
    assert mail.oldest_waiting_at == second.run_at
    assert mail.started_last_minute == 1
    assert not mail.paused


async def test_a_scheduled_job_waits_once_it_is_due(backend: Backend) -> None:
    due_soon = await enqueue(backend, queue="mail", delay_s=0.2)
    mail = await backend.get_queue("mail", LIVE)
    assert mail is not None
    assert mail.oldest_waiting_at is None

    async def oldest_waiting() -> datetime | None:
        found = await backend.get_queue("mail", LIVE)
        return None if found is None else found.oldest_waiting_at

    assert await eventually(oldest_waiting) == due_soon.run_at


async def test_a_queue_lists_the_live_workers_serving_it(backend: Backend) -> None:
    await backend.heartbeat(worker("w1", "mail", "default"), [])
    await backend.heartbeat(worker("w2", "default"), [])

    mail = await backend.get_queue("mail", LIVE)
    listed = {q.name: q.workers for q in await backend.list_queues(LIVE)}

    assert mail == QueueInfo("mail", workers=("w1",))
    assert listed == {"default": ("w1", "w2"), "mail": ("w1",)}
    # A worker counts while it heartbeat within the given seconds: none did in the future.
    assert await backend.list_queues(-5.0) == []
