"""The decisions both dialects apply, on plain values (the conformance suite checks that the
dialects write them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.backends.support import new_job
from underway.backends import policy
from underway.models import Job, JobFilter, JobState, Lease, LostAttempt, Outcome

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def stored(state: JobState = JobState.RUNNING, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": "active",
        "name": "task",
        "queue": "default",
        "priority": 0,
        "state": state,
        "args": {},
        "attempt": 1,
        "max_attempts": 3,
        "created_at": NOW,
        "run_at": NOW,
    }
    return Job(**{**values, **fields})


def test_a_join_request_gets_the_active_job_and_a_skip_records_why() -> None:
    active = stored()
    joined = policy.duplicate_result(new_job(unique="join", fingerprint="f"), active)
    assert not isinstance(joined, policy.RecordSkip)
    assert (joined.id, joined.joined) == ("active", True)
    recorded = policy.duplicate_result(new_job(unique="skip", fingerprint="f"), active)
    assert recorded == policy.RecordSkip("active", "job active with the same arguments is running")
    quiet = policy.duplicate_result(
        new_job(unique="skip", fingerprint="f", record_skipped=False), active
    )
    assert not isinstance(quiet, policy.RecordSkip)
    assert (quiet.id, quiet.skipped) == ("active", True)


def test_a_conflict_resolves_to_the_retried_call_before_the_cron_tick() -> None:
    same = stored(JobState.SKIPPED, id="same")
    tick = stored(id="tick")
    first = policy.conflict_result(same, tick)
    assert first is not None
    assert (first.id, first.skipped, first.joined) == ("same", True, False)
    second = policy.conflict_result(None, tick)
    assert second is not None
    assert (second.id, second.joined) == ("tick", True)
    assert policy.conflict_result(None, None) is None


def test_a_cron_tick_is_skipped_only_while_its_previous_run_is_active_and_it_says_skip() -> None:
    previous = stored(JobState.PENDING, id="prev")
    assert policy.overlap_skip(previous, "skip") == policy.RecordSkip(
        "prev", "previous run prev is still pending"
    )
    assert policy.overlap_skip(previous, "queue") is None
    assert policy.overlap_skip(None, "skip") is None


def test_an_outcome_leads_to_its_state_and_a_retry_waits_only_with_a_delay() -> None:
    lease = Lease("j", 1, "w")
    assert policy.outcome_state(Outcome(lease, "completed")) is JobState.COMPLETED
    assert policy.outcome_state(Outcome(lease, "failed")) is JobState.FAILED
    assert policy.outcome_state(Outcome(lease, "cancelled")) is JobState.CANCELLED
    assert policy.outcome_state(Outcome(lease, "retry", retry_delay_s=2)) is JobState.SCHEDULED
    assert policy.outcome_state(Outcome(lease, "retry")) is JobState.PENDING


def lost(
    attempt: int = 1, max_attempts: int = 1, losses: int = 0, cancel: bool = False
) -> policy.Recovery:
    return policy.recovery(
        attempt=attempt,
        max_attempts=max_attempts,
        losses=losses,
        cancel_requested=cancel,
        worker_id="w",
        max_losses=3,
    )


def test_a_lost_worker_reruns_the_job_without_spending_a_retry() -> None:
    first = lost(attempt=1, max_attempts=1)
    assert (first.state, first.losses, first.max_attempts) == (JobState.PENDING, 1, 2)
    assert (first.error.type, first.error.attempt) == ("WorkerLost", 1)
    assert first.error.message == "worker w stopped heartbeating during attempt 1"
    assert first.log_level == "warning"
    assert "put back in the queue without spending a retry (loss 1; max_losses is 3)" in (
        first.log_line
    )
    second = lost(attempt=5, max_attempts=5, losses=1)
    assert (second.state, second.losses, second.max_attempts) == (JobState.PENDING, 2, 6)


def test_the_max_losses_th_loss_fails_the_job_and_says_how_often_it_was_lost() -> None:
    third = lost(attempt=3, max_attempts=3, losses=2)
    assert (third.state, third.losses, third.max_attempts) == (JobState.FAILED, 3, 3)
    assert third.error.type == "WorkerLost"
    assert third.error.message == (
        "worker w stopped heartbeating during attempt 3; the job was lost 3 times (max_losses is 3)"
    )
    assert third.log_level == "error"
    at_once = policy.recovery(
        attempt=1,
        max_attempts=3,
        losses=0,
        cancel_requested=False,
        worker_id=None,
        max_losses=1,
    )
    assert at_once.state is JobState.FAILED
    assert at_once.error.message.startswith("worker ? ")


def test_a_lost_job_asked_to_cancel_is_cancelled_and_the_loss_counted() -> None:
    cancelled = lost(attempt=2, max_attempts=3, losses=2, cancel=True)
    assert (cancelled.state, cancelled.error) == (JobState.CANCELLED, policy.CANCELLED)
    assert (cancelled.losses, cancelled.max_attempts) == (3, 3)


def test_jobs_on_their_last_chance_go_back_spaced_apart_others_at_once() -> None:
    def stalled(losses: int, cancel: bool = False) -> dict[str, Any]:
        return {
            "name": "probe",
            "attempt": losses + 1,
            "max_attempts": losses + 1,
            "losses": losses,
            "cancel_requested": cancel,
            "worker_id": "w",
        }

    rows = [stalled(1), stalled(0), stalled(1), stalled(1), stalled(1, cancel=True), stalled(2)]
    decided = policy.recoveries(rows, max_losses=3, spacing_s=0.5)
    assert [(d.state, d.delay_s) for d in decided] == [
        (JobState.PENDING, 0.0),
        (JobState.PENDING, 0.0),
        (JobState.SCHEDULED, 0.5),
        (JobState.SCHEDULED, 1.0),
        (JobState.CANCELLED, 0.0),
        (JobState.FAILED, 0.0),
    ]
    assert "put back in the queue, to run in 0.5 s, without spending a retry" in (
        decided[2].log_line
    )


def test_a_sweep_counts_what_its_lost_attempts_became_and_wakes_for_those_that_ended() -> None:
    def taken(job_id: str, state: JobState) -> LostAttempt:
        return LostAttempt(job_id, "task", 1, "w", state, 1, policy.CANCELLED)

    result = policy.sweep_result(
        0,
        [taken("a", JobState.PENDING), taken("b", JobState.FAILED), taken("c", JobState.CANCELLED)],
    )
    assert (result.requeued, result.failed, result.cancelled) == (1, 1, 1)
    assert policy.after_sweep(result) == policy.Wakeups(work=True, finished=("b", "c"))


def test_a_write_wakes_workers_only_for_runnable_work_and_waiters_of_jobs_that_ended() -> None:
    lease = Lease("j", 1, "w")
    outcomes = [Outcome(lease, "completed"), Outcome(Lease("k", 1, "w"), "retry")]
    woken = policy.after_finish(outcomes, [True, False])
    assert woken == policy.Wakeups(work=True, finished=("j",))
    assert policy.after_requeue([lease], ["cancelled"]) == policy.Wakeups(finished=("j",))
    assert policy.after_cancel(stored(JobState.RUNNING)) == policy.Wakeups(cancel=("active",))
    assert policy.after_delete("j", False) == policy.NOBODY


def test_listing_filters_name_each_condition_and_escape_the_search() -> None:
    query = JobFilter(name="n", created_after=NOW, search="50%_off\\")
    assert policy.listing_filters(query) == [
        ("name", ("n",)),
        ("created_after", (NOW,)),
        ("search", ("%50\\%\\_off\\\\%",) * 3),
    ]


def test_a_jobs_own_loss_bound_wins_over_the_workers_default() -> None:
    rows = [
        {
            "id": "a",
            "name": "fragile",
            "attempt": 1,
            "max_attempts": 1,
            "losses": 0,
            "cancel_requested": False,
            "worker_id": "w",
        },
        {
            "id": "b",
            "name": "sturdy",
            "attempt": 1,
            "max_attempts": 1,
            "losses": 0,
            "cancel_requested": False,
            "worker_id": "w",
        },
    ]
    bounds = policy.LossBounds(default=3, per_job={"fragile": 1})
    fragile, sturdy = policy.recoveries(rows, bounds, spacing_s=0.0)
    assert (fragile.state, fragile.error.type) == (JobState.FAILED, "WorkerLost")
    assert "max_losses is 1" in fragile.error.message
    assert (sturdy.state, sturdy.max_attempts) == (JobState.PENDING, 2)
    assert policy.recoveries(rows, 1, 0.0)[1].state is JobState.FAILED
