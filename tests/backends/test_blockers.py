"""Conformance: `blockers` names what holds a waiting job, from the stored facts, on every
backend: its time, a paused queue, full concurrency (queue, key, unique="queue"), rate limits
(job and queue), no live worker; and what a job that is not waiting does instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from underway.backends.base import Backend
from underway.explanations import Blocker, Explanation
from underway.models import JobState, Outcome, WorkerInfo

from .flow_rows import add_rate_starts, write_queue
from .support import WORKER, claim_one, clock_moves_on, enqueue, lease, unique_job

LIVE = 60.0
SEND_KEY = 'job:send:"acme"'


async def serve(backend: Backend, *queues: str, worker_id: str = "live-worker") -> None:
    """Register a worker serving `queues`, heartbeating now."""
    now = datetime.now(UTC)
    await backend.heartbeat(WorkerInfo(worker_id, "host", 1, queues, 4, now, now), [])


async def explained(backend: Backend, job_id: str, stale_after_s: float = LIVE) -> Explanation:
    found = await backend.blockers(job_id, stale_after_s)
    assert found is not None
    return found


def kinds(explanation: Explanation) -> list[str]:
    return [reason.kind for reason in explanation.reasons]


def only(explanation: Explanation, kind: str) -> Blocker:
    [found] = [reason for reason in explanation.reasons if reason.kind == kind]
    return found


def close(a: datetime | None, b: datetime, within_s: float = 0.001) -> bool:
    return a is not None and abs((a - b).total_seconds()) < within_s


async def test_an_unknown_job_has_no_explanation(backend: Backend) -> None:
    assert await backend.blockers("no-such-job", LIVE) is None


async def test_a_job_not_due_yet_is_held_until_its_run_at(backend: Backend) -> None:
    await serve(backend, "default")
    run_at = datetime.now(UTC) + timedelta(hours=1)
    job = await enqueue(backend, run_at=run_at)

    explanation = await explained(backend, job.id)

    assert (explanation.job_id, explanation.state) == (job.id, JobState.SCHEDULED)
    assert kinds(explanation) == ["scheduled"]
    [reason] = explanation.reasons
    assert close(reason.until, run_at)
    assert "due at" in reason.message
    assert "(in 59m" in reason.message


async def test_a_paused_queue_holds_its_jobs_saying_since_when_and_by_whom(
    backend: Backend,
) -> None:
    await serve(backend, "default")
    paused_at = datetime.now(UTC) - timedelta(minutes=5)
    write_queue(backend, "default", paused=True, paused_at=paused_at, paused_by="alice")
    job = await enqueue(backend)

    reason = only(await explained(backend, job.id), "queue_paused")

    assert reason.message.startswith("queue default is paused since ")
    assert " by alice" in reason.message
    assert reason.details["paused_by"] == "alice"
    assert close(reason.details["paused_at"], paused_at)


async def test_an_unpaused_queue_row_holds_nothing(backend: Backend) -> None:
    await serve(backend, "default")
    write_queue(backend, "default", paused=False, concurrency=5, rate_limit=10, rate_window_s=1)
    job = await enqueue(backend)

    assert kinds(await explained(backend, job.id)) == ["ready"]


async def test_a_full_queue_names_its_running_jobs(backend: Backend) -> None:
    await serve(backend, "default")
    write_queue(backend, "default", concurrency=2)
    first = await enqueue(backend)
    second = await enqueue(backend)
    waiting = await enqueue(backend)
    await claim_one(backend)
    assert kinds(await explained(backend, waiting.id)) == ["ready"]
    await claim_one(backend)

    reason = only(await explained(backend, waiting.id), "queue_concurrency")

    assert reason.job_ids == (first.id, second.id)
    assert reason.message == (
        f"queue default is at its concurrency limit: 2/2 running ({first.id}, {second.id})"
    )


async def test_a_full_concurrency_key_names_its_running_jobs(backend: Backend) -> None:
    await serve(backend, "default")
    lane = {"lane": SEND_KEY, "lane_limit": 2}
    first = await enqueue(backend, **lane)
    second = await enqueue(backend, **lane)
    other_key = await enqueue(backend, lane='job:send:"other"', lane_limit=2)
    waiting = await enqueue(backend, **lane)
    await claim_one(backend)
    await claim_one(backend)

    reason = only(await explained(backend, waiting.id), "concurrency_key")

    assert reason.job_ids == (first.id, second.id)
    assert reason.details == {"lane": SEND_KEY, "limit": 2, "running": 2}
    assert reason.message.startswith(f"concurrency key {SEND_KEY} is full: 2/2 running (")
    assert "concurrency_key" not in kinds(await explained(backend, other_key.id))


async def test_a_unique_queue_job_waits_for_its_same_arguments_run(backend: Backend) -> None:
    await serve(backend, "default")
    first = (await backend.enqueue(unique_job("queue"))).job
    second = (await backend.enqueue(unique_job("queue"))).job
    await claim_one(backend)

    explanation = await explained(backend, second.id)

    assert kinds(explanation) == ["unique_queue"]
    reason = explanation.reasons[0]
    assert reason.job_ids == (first.id,)
    assert reason.message.startswith(f"queue lane busy: its same-arguments run {first.id} is")


async def test_a_key_at_its_rate_limit_says_when_the_next_slot_opens(backend: Backend) -> None:
    await serve(backend, "default")
    now = datetime.now(UTC)
    soonest, second = now + timedelta(seconds=10), now + timedelta(seconds=20)
    add_rate_starts(backend, SEND_KEY, [now - timedelta(seconds=1), soonest])
    add_rate_starts(backend, 'job:send:"other"', [now + timedelta(seconds=5)] * 5)
    job = await enqueue(backend, rate_key=SEND_KEY, rate_limit=2, rate_window_s=30.0)
    assert kinds(await explained(backend, job.id)) == ["ready"]
    # Two of the three live starts must leave the window before a third may start.
    add_rate_starts(backend, SEND_KEY, [now + timedelta(seconds=30), second])

    reason = only(await explained(backend, job.id), "rate_limit")

    assert close(reason.until, second)
    assert reason.details["starts"] == 3
    assert reason.details["window"] == "sliding"
    assert reason.message.startswith(
        f"rate limit 2/30s (sliding) for key {SEND_KEY} reached: 3 starts in the window; "
        "next slot at "
    )


async def test_starts_that_share_an_expiry_each_count_toward_the_next_slot(
    backend: Backend,
) -> None:
    await serve(backend, "default")
    now = datetime.now(UTC)
    together, later = now + timedelta(seconds=10), now + timedelta(seconds=20)
    # One claim's two starts leave the window together, the third later: at a limit of 2,
    # the second of the three opens the next slot, and it expires with the first.
    add_rate_starts(backend, SEND_KEY, [together, together, later])
    job = await enqueue(backend, rate_key=SEND_KEY, rate_limit=2, rate_window_s=30.0)

    reason = only(await explained(backend, job.id), "rate_limit")

    assert close(reason.until, together)
    assert reason.details["starts"] == 3


async def test_a_fixed_window_rate_limit_opens_when_its_window_ends(backend: Backend) -> None:
    await serve(backend, "default")
    window_end = datetime.now(UTC) + timedelta(seconds=40)
    add_rate_starts(backend, "job:report", [window_end] * 3)
    job = await enqueue(
        backend, rate_key="job:report", rate_limit=3, rate_window_s=60.0, rate_fixed=True
    )

    reason = only(await explained(backend, job.id), "rate_limit")

    assert close(reason.until, window_end)
    assert "3/60s (fixed)" in reason.message


async def test_a_queue_at_its_rate_limit_counts_starts_under_its_queue_key(
    backend: Backend,
) -> None:
    await serve(backend, "mail")
    write_queue(backend, "mail", rate_limit=1, rate_window_s=1.0)
    next_slot = datetime.now(UTC) + timedelta(seconds=1)
    add_rate_starts(backend, "mail", [next_slot])
    job = await enqueue(backend, queue="mail")
    assert kinds(await explained(backend, job.id)) == ["ready"]
    add_rate_starts(backend, "queue:mail", [next_slot])

    reason = only(await explained(backend, job.id), "queue_rate_limit")

    assert close(reason.until, next_slot)
    assert reason.message.startswith(
        "queue mail rate limit 1/1s (sliding) reached: 1 start in the window; next slot at "
    )


async def test_a_queue_no_live_worker_serves_holds_its_jobs(backend: Backend) -> None:
    await serve(backend, "mail", "reports")
    job = await enqueue(backend)

    reason = only(await explained(backend, job.id), "no_worker")
    assert reason.message == (
        "no live worker serves queue default (1 live worker serves only mail, reports)"
    )

    await serve(backend, "default", worker_id="default-worker")
    assert kinds(await explained(backend, job.id)) == ["ready"]
    await clock_moves_on()
    assert kinds(await explained(backend, job.id, stale_after_s=0.001)) == ["no_worker"]


async def test_several_holds_are_all_reported_most_fundamental_first(backend: Backend) -> None:
    await enqueue(backend, lane=SEND_KEY, lane_limit=1)
    await claim_one(backend)
    write_queue(backend, "default", paused=True, concurrency=1, rate_limit=1, rate_window_s=1.0)
    add_rate_starts(backend, "queue:default", [datetime.now(UTC) + timedelta(seconds=1)])
    later = await enqueue(backend, run_at=datetime.now(UTC) + timedelta(minutes=1))
    rate = {"rate_key": SEND_KEY, "rate_limit": 1, "rate_window_s": 60.0}
    due = await enqueue(backend, lane=SEND_KEY, lane_limit=1, **rate)
    add_rate_starts(backend, SEND_KEY, [datetime.now(UTC) + timedelta(seconds=30)])

    # Limits shared with other jobs hold only a job that is due.
    assert kinds(await explained(backend, later.id)) == ["scheduled", "queue_paused", "no_worker"]
    assert kinds(await explained(backend, due.id)) == [
        "queue_paused",
        "queue_concurrency",
        "concurrency_key",
        "rate_limit",
        "queue_rate_limit",
        "no_worker",
    ]


async def test_a_ready_job_counts_the_jobs_ahead_of_it_in_claim_order(backend: Backend) -> None:
    await serve(backend, "default")
    due = datetime.now(UTC) - timedelta(minutes=1)
    await enqueue(backend, run_at=due)
    await enqueue(backend, run_at=due)
    await enqueue(backend, lane=SEND_KEY, lane_limit=5, run_at=due - timedelta(seconds=1))
    job = await enqueue(backend, run_at=due)
    await enqueue(backend, run_at=due)
    await enqueue(backend, queue="other", run_at=due - timedelta(seconds=1))
    await enqueue(backend, run_at=datetime.now(UTC) + timedelta(hours=1))
    assert only(await explained(backend, job.id), "ready").details["ahead"] == 3

    await enqueue(backend, priority=5)
    reason = only(await explained(backend, job.id), "ready")

    assert reason.details["ahead"] == 4
    assert reason.message == (
        "ready: it will start at the next claim; 4 jobs ahead of it in queue default"
    )


async def test_a_skipped_job_names_the_job_it_duplicated(backend: Backend) -> None:
    first = (await backend.enqueue(unique_job("skip"))).job
    skipped = (await backend.enqueue(unique_job("skip"))).job
    assert skipped.state is JobState.SKIPPED

    explanation = await explained(backend, skipped.id)

    assert kinds(explanation) == ["skipped"]
    reason = explanation.reasons[0]
    assert reason.job_ids == (first.id,)
    assert reason.message.startswith(f"skipped as a duplicate of job {first.id}: ")
    assert reason.details["skip_reason"] == skipped.skip_reason


async def test_a_running_job_says_which_worker_runs_it(backend: Backend) -> None:
    job = await enqueue(backend)
    await claim_one(backend)

    reason = only(await explained(backend, job.id), "not_waiting")
    assert reason.message.startswith(f"running on worker {WORKER} since ")
    assert "has not heartbeated in the last 60s" in reason.message
    assert reason.details["worker_live"] is False

    await serve(backend, "default", worker_id=WORKER)
    reason = only(await explained(backend, job.id), "not_waiting")
    assert reason.details["worker_live"] is True
    assert "heartbeated" not in reason.message


async def test_a_finished_job_says_when_it_finished(backend: Backend) -> None:
    await enqueue(backend)
    job = await claim_one(backend)
    await backend.finish([Outcome(lease(job), "completed", result=1)])

    explanation = await explained(backend, job.id)

    assert explanation.state is JobState.COMPLETED
    [reason] = explanation.reasons
    assert reason.kind == "not_waiting"
    assert reason.message.startswith("completed at ")
    assert reason.details["finished_at"] is not None
