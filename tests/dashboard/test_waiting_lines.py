"""The "Why it is waiting" lines cut each message around the job ids it names."""

from __future__ import annotations

from underway.dashboard.waiting import Part, linked_ids


def test_each_named_job_id_becomes_its_own_part_longest_first() -> None:
    parts = linked_ids("2/2 running (job-1, job-12)", ("job-1", "job-12"))

    assert parts == (
        Part("2/2 running ("),
        Part("job-1", "job-1"),
        Part(", "),
        Part("job-12", "job-12"),
        Part(")"),
    )


def test_a_message_naming_no_job_is_one_part() -> None:
    assert linked_ids("ready: it will start at the next claim", ()) == (
        Part("ready: it will start at the next claim"),
    )
