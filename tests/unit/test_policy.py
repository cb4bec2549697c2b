"""The decisions both dialects apply, on plain values (the conformance suite checks that the
dialects write them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.backends.support import new_job
from underway.backends import policy
from underway.models import Job, JobFilter, JobState, Lease, Outcome

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


def row(priority: int, run_at: float, seq: int) -> dict[str, Any]:
    return {"priority": priority, "run_at": run_at, "seq": seq}


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


def test_the_claim_takes_the_first_jobs_of_both_kinds_in_claim_order() -> None:
    plain = [row(0, 1.0, 1), row(0, 3.0, 3)]
    laned = [row(5, 9.0, 9), row(0, 2.0, 2)]
    chosen = policy.choose(plain, laned, 3)
    assert [r["seq"] for r in chosen] == [9, 1, 2]


def test_the_whole_lane_backlog_is_ranked_only_when_it_could_change_the_claim() -> None:
    last_plain = policy.last_if_full([row(0, 1.0, 1), row(0, 5.0, 5)], 2)
    assert last_plain == (0, 5.0, 5)
    assert policy.last_if_full([row(0, 1.0, 1)], 2) is None
    # The first scan filled the claim, or nothing was left out of it.
    assert not policy.rank_whole_backlog([row(0, 1.0, 1)] * 2, 2, row(0, 2.0, 2), None)
    assert not policy.rank_whole_backlog([], 2, None, None)
    # A left-out job could come before the last plain job chosen, or plain jobs do not fill.
    assert policy.rank_whole_backlog([], 2, row(0, 4.0, 4), last_plain)
    assert policy.rank_whole_backlog([], 2, row(0, 9.0, 9), None)
    # It comes after it: the plain jobs fill the claim whatever the ranks.
    assert not policy.rank_whole_backlog([], 2, row(0, 9.0, 9), last_plain)


def test_an_outcome_leads_to_its_state_and_a_retry_waits_only_with_a_delay() -> None:
    lease = Lease("j", 1, "w")
    assert policy.outcome_state(Outcome(lease, "completed")) is JobState.COMPLETED
    assert policy.outcome_state(Outcome(lease, "failed")) is JobState.FAILED
    assert policy.outcome_state(Outcome(lease, "cancelled")) is JobState.CANCELLED
    assert policy.outcome_state(Outcome(lease, "retry", retry_delay_s=2)) is JobState.SCHEDULED
    assert policy.outcome_state(Outcome(lease, "retry")) is JobState.PENDING


def test_a_stalled_job_is_cancelled_if_asked_else_retried_until_its_attempts_are_spent() -> None:
    assert policy.recovery(1, 3, True, "w") == (JobState.CANCELLED, policy.CANCELLED)
    state, error = policy.recovery(1, 3, False, "w")
    assert state is JobState.PENDING
    assert (error.type, error.attempt) == ("WorkerLost", 1)
    assert error.message == "worker w stopped heartbeating during attempt 1"
    assert policy.recovery(3, 3, False, None)[0] is JobState.FAILED
    assert policy.recovery(3, 3, False, None)[1].message.startswith("worker ? ")


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
        ("search", ("%50\\%\\_off\\\\%", "%50\\%\\_off\\\\%")),
    ]
