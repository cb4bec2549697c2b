"""Conformance: the worker's fenced writes (heartbeat, progress, finish, requeue)."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime

import pytest

from underway.backends.base import Backend
from underway.models import JobError, JobState, Lease, LogEntry, Outcome, ProgressUpdate, WorkerInfo

from .support import WORKER, claim_one, clock_moves_on, enqueue, lease


def worker_info(worker_id: str = WORKER) -> WorkerInfo:
    now = datetime.now(UTC)
    return WorkerInfo(
        id=worker_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        queues=("default", "mail"),
        concurrency=4,
        started_at=now,
        heartbeat_at=now,
    )


def log_lines(*messages: str) -> tuple[LogEntry, ...]:
    return tuple(LogEntry(at=datetime.now(UTC), message=m) for m in messages)


async def test_heartbeat_touches_running_jobs_and_reports_lost_leases(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    await clock_moves_on()
    stale = Lease(job.id, job.attempt + 1, WORKER)
    assert await backend.heartbeat(worker_info(), [lease(job), stale]) == {job.id}
    assert await backend.heartbeat(worker_info(), [lease(job)]) == set()
    touched = await backend.get(job.id)
    assert touched is not None
    assert touched.heartbeat_at is not None
    assert job.heartbeat_at is not None
    assert touched.heartbeat_at > job.heartbeat_at


async def test_heartbeat_renews_only_the_leases_it_names(backend: Backend) -> None:
    """A job the worker gave up (its attempt stopped, its lease no longer sent) is not renewed
    by the worker's later heartbeats, so the sweeper finds it stalled (R3, R5)."""
    await enqueue(backend)
    await enqueue(backend)
    held, given_up = await claim_one(backend), await claim_one(backend)
    await asyncio.sleep(0.4)  # time passes: given_up's last renewal ages
    assert await backend.heartbeat(worker_info(), [lease(held)]) == set()
    renewed, left = await backend.get(held.id), await backend.get(given_up.id)
    assert renewed is not None
    assert left is not None
    assert renewed.heartbeat_at is not None
    assert held.heartbeat_at is not None
    assert renewed.heartbeat_at > held.heartbeat_at
    assert left.heartbeat_at == given_up.heartbeat_at
    swept = await backend.sweep(stall_timeout_s=0.2)
    assert swept.requeued == 1
    rescued, still = await backend.get(given_up.id), await backend.get(held.id)
    assert rescued is not None
    assert still is not None
    assert (rescued.state, rescued.worker_id) == (JobState.PENDING, None)
    assert [e.type for e in rescued.errors] == ["WorkerLost"]
    assert (still.state, still.worker_id) == (JobState.RUNNING, WORKER)


async def test_heartbeat_does_not_renew_a_lease_older_than_max_age(backend: Backend) -> None:
    """A heartbeat that reaches the database late (sent before a partition, delivered after
    the worker gave its leases up on its own clock) revives none of them."""
    await enqueue(backend)
    job = await claim_one(backend)
    await asyncio.sleep(0.4)
    assert await backend.heartbeat(worker_info(), [lease(job)], max_age_s=0.2) == {job.id}
    stored = await backend.get(job.id)
    assert stored is not None
    assert stored.heartbeat_at == job.heartbeat_at
    assert await backend.heartbeat(worker_info(), [lease(job)], max_age_s=30) == set()


async def test_progress_writes_renew_no_lease(backend: Backend) -> None:
    """Only heartbeats renew leases: a progress write delivered late must not revive one."""
    await enqueue(backend)
    job = await claim_one(backend)
    await asyncio.sleep(0.4)
    update = ProgressUpdate(lease(job), progress=50.0, logs=log_lines("still here"))
    assert await backend.save_progress([update], max_log_entries=10) == set()
    stored = await backend.get(job.id)
    assert stored is not None
    assert stored.progress == 50.0
    assert stored.heartbeat_at == job.heartbeat_at
    assert (await backend.sweep(stall_timeout_s=0.2)).requeued == 1


async def test_heartbeat_reports_leases_held_by_another_attempt(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    assert await backend.heartbeat(worker_info(), [Lease(job.id, 99, WORKER)]) == {job.id}
    gone = Lease("no-such-job", 1, WORKER)
    assert await backend.heartbeat(worker_info(), [gone]) == {"no-such-job"}


async def test_heartbeat_registers_the_worker(backend: Backend) -> None:
    await backend.heartbeat(worker_info("w-a"), [])
    await enqueue(backend)
    job = await claim_one(backend, "w-a")
    workers = await backend.list_workers(stale_after_s=60)
    assert [w.id for w in workers] == ["w-a"]
    assert workers[0].queues == ("default", "mail")
    assert workers[0].concurrency == 4
    assert workers[0].running == (job.id,)
    await backend.unregister_worker("w-a")
    assert await backend.list_workers(stale_after_s=60) == []


async def test_running_leases_lists_attempts_and_cancel_requests(backend: Backend) -> None:
    await enqueue(backend)
    await enqueue(backend)
    a = await claim_one(backend)
    b = await claim_one(backend, "other")
    assert await backend.running_leases(WORKER) == {a.id: (1, False)}
    await backend.cancel(a.id)
    assert await backend.running_leases(WORKER) == {a.id: (1, True)}
    assert await backend.running_leases("other") == {b.id: (1, False)}


async def test_save_progress_writes_progress_message_and_logs(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    update = ProgressUpdate(lease(job), progress=25.0, message="reading", logs=log_lines("a", "b"))
    assert await backend.save_progress([update], max_log_entries=10) == set()
    await backend.save_progress([ProgressUpdate(lease(job), logs=log_lines("c"))], 10)
    stored = await backend.get(job.id)
    assert stored is not None
    assert (stored.progress, stored.message, stored.log_count) == (25.0, "reading", 3)
    assert [e.message for e in await backend.logs(job.id)] == ["a", "b", "c"]
    assert [e.message for e in await backend.logs(job.id, after=1, limit=1)] == ["b"]


async def test_save_progress_caps_logs_and_counts_the_dropped(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    first = ProgressUpdate(lease(job), logs=log_lines("1", "2", "3"))
    second = ProgressUpdate(lease(job), logs=log_lines("4", "5"), dropped=7)
    await backend.save_progress([first], max_log_entries=4)
    await backend.save_progress([second], max_log_entries=4)
    stored = await backend.get(job.id)
    assert stored is not None
    assert (stored.log_count, stored.logs_dropped) == (4, 8)
    assert [e.message for e in await backend.logs(job.id)] == ["1", "2", "3", "4"]


async def test_save_progress_of_a_stale_attempt_changes_nothing(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    stale = ProgressUpdate(Lease(job.id, job.attempt, "zombie"), progress=90, logs=log_lines("x"))
    assert await backend.save_progress([stale], 10) == {job.id}
    stored = await backend.get(job.id)
    assert stored is not None
    assert (stored.progress, stored.log_count) == (0.0, 0)
    assert await backend.logs(job.id) == []


async def test_finish_completed_stores_the_result(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    assert await backend.finish([Outcome(lease(job), "completed", result={"url": "/x"})]) == [True]
    done = await backend.get(job.id)
    assert done is not None
    assert done.state is JobState.COMPLETED
    assert done.result == {"url": "/x"}
    assert done.progress == 100.0
    assert done.finished_at is not None
    assert done.error is None


async def test_finish_failed_records_the_error(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    error = JobError(type="ValueError", message="bad month", traceback="tb", attempt=1)
    await backend.finish([Outcome(lease(job), "failed", error=error)])
    failed = await backend.get(job.id)
    assert failed is not None
    assert failed.state is JobState.FAILED
    assert failed.error is not None
    assert (failed.error.type, failed.error.message, failed.error.traceback) == (
        "ValueError",
        "bad month",
        "tb",
    )
    assert failed.error.at is not None
    assert [e.message for e in failed.errors] == ["bad month"]
    assert failed.result is None


async def test_finish_retry_reschedules_and_keeps_the_error_history(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    boom = JobError(type="IOError", message="try again", attempt=1)
    await backend.finish([Outcome(lease(job), "retry", error=boom, retry_delay_s=60)])
    waiting = await backend.get(job.id)
    assert waiting is not None
    assert waiting.state is JobState.SCHEDULED
    assert waiting.worker_id is None
    assert waiting.run_at > job.started_at  # type: ignore[operator]
    assert await backend.claim(WORKER, ["default"], 1) == []
    await enqueue(backend)
    now = await claim_one(backend)
    await backend.finish([Outcome(lease(now), "retry", error=boom)])
    again = await claim_one(backend)
    assert (again.id, again.attempt) == (now.id, 2)
    assert [e.message for e in again.errors] == ["try again"]


async def test_one_batch_records_outcomes_that_share_and_that_differ(backend: Backend) -> None:
    """A batch sends columns alike in every outcome once and the others per outcome: each job
    must still get its own outcome."""
    for _ in range(6):
        await enqueue(backend)
    jobs = [await claim_one(backend) for _ in range(6)]
    boom = JobError(type="IOError", message="try again", attempt=1)
    alike = [Outcome(lease(job), "completed") for job in jobs[:3]]
    assert await backend.finish(alike) == [True, True, True]
    mixed = [
        Outcome(lease(jobs[3]), "completed", result={"n": 3}),
        Outcome(lease(jobs[4]), "failed", error=JobError(type="ValueError", message="bad")),
        Outcome(lease(jobs[5]), "retry", error=boom, retry_delay_s=60),
    ]
    assert await backend.finish(mixed) == [True, True, True]
    stored = [await backend.get(job.id) for job in jobs]
    assert [(j.state, j.result) for j in stored if j is not None] == [
        (JobState.COMPLETED, None),
        (JobState.COMPLETED, None),
        (JobState.COMPLETED, None),
        (JobState.COMPLETED, {"n": 3}),
        (JobState.FAILED, None),
        (JobState.SCHEDULED, None),
    ]
    failed, retried = stored[4], stored[5]
    assert failed is not None
    assert failed.error is not None
    assert (failed.error.type, failed.error.message) == ("ValueError", "bad")
    assert retried is not None
    assert [e.message for e in retried.errors] == ["try again"]
    assert retried.run_at > jobs[5].started_at  # type: ignore[operator]


async def test_completions_of_one_batch_keep_their_own_results_and_fences(
    backend: Backend,
) -> None:
    """Completions may be written together: each job still gets its own result, a cancel
    request still wins, and a lost lease changes nothing and keeps no other from being held."""
    for _ in range(5):
        await enqueue(backend)
    jobs = [await claim_one(backend) for _ in range(5)]
    await backend.cancel(jobs[1].id)
    results = ['a "quote", a \\ and a \n', {"ü": ["\t", 10**20]}, 7, None, [1.5, "\u2028"]]
    done = [Outcome(lease(j), "completed", result=r) for j, r in zip(jobs, results, strict=True)]
    assert await backend.finish([done[0], done[1], done[3], done[4]]) == [True] * 4
    zombie = Outcome(Lease(jobs[3].id, jobs[3].attempt, "zombie"), "completed", result=0)
    assert await backend.finish([zombie, done[2], done[0]]) == [False, True, False]
    stored = [await backend.get(job.id) for job in jobs]
    assert [(j.state, j.result) for j in stored if j is not None] == [
        (JobState.COMPLETED, results[0]),
        (JobState.CANCELLED, None),
        (JobState.COMPLETED, 7),
        (JobState.COMPLETED, None),
        (JobState.COMPLETED, results[4]),
    ]


async def test_finish_cancelled_by_the_worker(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.finish([Outcome(lease(job), "cancelled")])
    assert (await backend.get(job.id)).state is JobState.CANCELLED  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["completed", "failed", "retry"])
async def test_a_cancel_request_wins_over_the_outcome(backend: Backend, kind: str) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.cancel(job.id)
    error = JobError(type="E", message="m") if kind != "completed" else None
    held = await backend.finish([Outcome(lease(job), kind, result=42, error=error)])  # type: ignore[arg-type]
    assert held == [True]
    final = await backend.get(job.id)
    assert final is not None
    assert final.state is JobState.CANCELLED
    assert final.result is None
    assert final.error is not None
    assert final.error.type == "Cancelled"


async def test_finish_by_a_stale_attempt_changes_nothing(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    outcomes = [
        Outcome(Lease(job.id, job.attempt, "zombie"), "completed", result=1),
        Outcome(Lease(job.id, job.attempt + 1, WORKER), "failed"),
        Outcome(Lease("no-such-job", 1, WORKER), "completed"),
    ]
    assert await backend.finish(outcomes) == [False, False, False]
    assert await backend.get(job.id) == job
    assert await backend.finish([Outcome(lease(job), "completed", result=2)]) == [True]
    assert await backend.finish([Outcome(lease(job), "failed")]) == [False]
    assert (await backend.get(job.id)).result == 2  # type: ignore[union-attr]


async def test_finish_notifies_finished(backend: Backend) -> None:
    seen: list[str] = []
    backend.subscribe("finished", seen.append)
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.finish([Outcome(lease(job), "completed")])
    assert job.id in seen


async def test_requeue_gives_the_job_back_without_counting_the_attempt(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    assert await backend.requeue([lease(job), Lease(job.id, 1, "zombie")]) == 1
    back = await backend.get(job.id)
    assert back is not None
    assert (back.state, back.attempt, back.worker_id) == (JobState.PENDING, 0, None)
    again = await claim_one(backend)
    assert again.attempt == 1


async def test_requeue_of_a_job_asked_to_cancel_cancels_it(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.cancel(job.id)
    assert await backend.requeue([lease(job)]) == 0
    assert (await backend.get(job.id)).state is JobState.CANCELLED  # type: ignore[union-attr]


async def test_requeue_that_cancels_notifies_finished(backend: Backend) -> None:
    seen: list[str] = []
    backend.subscribe("finished", seen.append)
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.cancel(job.id)
    await backend.requeue([lease(job)])
    assert job.id in seen
