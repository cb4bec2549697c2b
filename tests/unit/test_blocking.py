"""The words of `backends.blocking`: times, counts beyond what is named or counted, and the
holds the conformance suite cannot set up cheaply (a recurring run's lane, a failed job)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from underway.backends import blocking
from underway.explanations import BlockingFacts, LaneFacts, QueueFacts, RunningFacts
from underway.models import Job, JobError, JobState, WorkerInfo

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
WORKER = WorkerInfo("w1", "host", 1, ("default",), 4, NOW, NOW)


def job(**overrides: object) -> Job:
    fields: dict[str, object] = {
        "id": "job-1",
        "name": "send",
        "queue": "default",
        "priority": 0,
        "state": JobState.PENDING,
        "args": {},
        "attempt": 0,
        "max_attempts": 3,
        "created_at": NOW,
        "run_at": NOW,
    }
    fields.update(overrides)
    return Job(**fields)  # type: ignore[arg-type]


def facts(**overrides: object) -> BlockingFacts:
    fields: dict[str, object] = {
        "job": job(),
        "now": NOW,
        "queue": QueueFacts("default"),
        "lane": None,
        "rate": None,
        "live_workers": (WORKER,),
        "ahead": 0,
    }
    fields.update(overrides)
    return BlockingFacts(**fields)  # type: ignore[arg-type]


def messages(found: BlockingFacts) -> list[str]:
    return [reason.message for reason in blocking.explain(found, 60.0).reasons]


def test_the_next_slot_is_the_start_whose_expiry_brings_the_key_below_its_limit() -> None:
    assert blocking.next_slot_offset(1, 2) is None
    assert blocking.next_slot_offset(2, 2) == 0
    assert blocking.next_slot_offset(5, 2) == 3


def test_times_show_the_date_only_when_it_is_not_today() -> None:
    assert blocking.moment(NOW + timedelta(seconds=1.25), NOW) == "12:00:01.250Z"
    assert blocking.moment(NOW + timedelta(days=1), NOW) == "2026-05-02T12:00:00.000Z"


def test_time_until_shows_two_units_from_the_largest() -> None:
    assert blocking.time_until(NOW + timedelta(seconds=2.5), NOW) == "in 2.5s"
    assert blocking.time_until(NOW + timedelta(minutes=4, seconds=59), NOW) == "in 4m 59s"
    assert blocking.time_until(NOW + timedelta(hours=2, seconds=5), NOW) == "in 2h"
    assert blocking.time_until(NOW + timedelta(days=1, hours=3, minutes=1), NOW) == "in 1d 3h"


def test_a_limit_with_more_running_jobs_than_it_names_says_how_many_more() -> None:
    named = tuple(f"r{i}" for i in range(blocking.NAMED_RUNNING))
    queue = QueueFacts("default", concurrency=15, running=RunningFacts(15, named))

    [line] = messages(facts(queue=queue))

    assert line.endswith(f"15/15 running ({', '.join(named)} and 5 more)")


def test_a_long_backlog_ahead_is_not_counted_to_its_end() -> None:
    [line] = messages(facts(ahead=blocking.AHEAD_COUNTED + 1))

    assert line == (
        "ready: it will start at the next claim; more than 1000 jobs are ahead of it in "
        "queue default"
    )


def test_a_recurring_run_waits_for_its_previous_run() -> None:
    lane = LaneFacts("recurring:r-1", 1, RunningFacts(1, ("job-0",)))

    [reason] = blocking.explain(facts(lane=lane), 60.0).reasons

    assert reason.kind == "unique_queue"
    assert reason.message.startswith("queue lane busy: its previous run job-0 is running")


def test_a_concurrency_key_of_one_is_not_a_unique_queue_lane() -> None:
    lane = LaneFacts("job:send", 1, RunningFacts(1, ("job-0",)))

    [reason] = blocking.explain(facts(lane=lane), 60.0).reasons

    assert reason.kind == "concurrency_key"


def test_a_failed_job_says_when_and_what_it_raised() -> None:
    error = JobError("TimeoutError", "slow")
    failed = job(state=JobState.FAILED, attempt=3, finished_at=NOW, error=error)

    assert messages(facts(job=failed)) == [
        "failed at 12:00:00.000Z, not waiting (attempt 3 of 3: TimeoutError)"
    ]


def test_limits_shared_with_other_jobs_do_not_hold_a_job_before_it_is_due() -> None:
    later = job(state=JobState.SCHEDULED, run_at=NOW + timedelta(minutes=5), attempt=1)
    queue = QueueFacts("default", concurrency=1, running=RunningFacts(1, ("r0",)))

    assert messages(facts(job=later, queue=queue)) == [
        "scheduled after attempt 1: due at 12:05:00.000Z (in 5m)"
    ]
