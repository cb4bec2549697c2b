"""How a batch of requests that each need a fingerprint lookup resolves (`lookup_batches`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from underway.backends import lookup_batches
from underway.errors import QueueFull
from underway.models import Job, JobState, NewJob

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def request(mode: str, fingerprint: str = "fp", **more: object) -> NewJob:
    fields: dict[str, object] = {"id": "id", "name": "task", "queue": "default", "priority": 0}
    fields.update(retention_s=60.0, args={}, max_attempts=1)
    fields.update(unique=mode, fingerprint=fingerprint, **more)
    return NewJob(**fields)  # type: ignore[arg-type]


def stored(state: JobState) -> Job:
    return Job("stored", "task", "default", 0, state, {}, 1, 1, NOW, NOW, fingerprint="fp")


def test_a_job_the_batch_stores_comes_before_a_completed_one_in_a_longer_window() -> None:
    first = request("join", id="a")
    later = request("join", id="b", unique_for_s=3600.0)
    completed = {lookup_batches.window_of(later): stored(JobState.COMPLETED)}
    resolved = lookup_batches.resolve([first, later], completed, {})
    assert resolved is not None
    assert [job.id for job in resolved.stored] == ["a"]
    assert resolved.same_as == {1: (0, True)}


def test_an_active_stored_job_answers_every_request_for_it() -> None:
    requests = [request("join", id="a"), request("skip", id="b", record_skipped=False)]
    active = {lookup_batches.window_of(requests[0]): stored(JobState.RUNNING)}
    resolved = lookup_batches.resolve(requests, active, {})
    assert resolved is not None
    assert resolved.stored == []
    assert [(r.id, r.joined, r.skipped) for r in resolved.answers.values()] == [
        ("stored", True, False),
        ("stored", False, True),
    ]


def test_a_skip_to_record_sends_the_batch_one_by_one() -> None:
    requests = [request("skip", id="a"), request("skip", id="b")]
    assert lookup_batches.resolve(requests, {}, {}) is None


def test_a_bounded_queue_counts_the_batch_and_refuses_past_its_limit() -> None:
    bounded = [request("queue", id=str(i), queue_limit=3, queue_full="raise") for i in range(3)]
    resolved = lookup_batches.resolve(bounded[:2], {}, {"fp": 1})
    assert resolved is not None
    assert len(resolved.stored) == 2
    with pytest.raises(QueueFull):
        lookup_batches.resolve(bounded, {}, {"fp": 1})


def test_only_requests_whose_one_lookup_is_their_fingerprints_batch() -> None:
    joins = [request("join", id="a"), request("join", id="b")]
    assert lookup_batches.batchable(joins)
    assert not lookup_batches.batchable(joins[:1])
    assert not lookup_batches.batchable([*joins, request("join", id="c", idempotency_key="k")])
    assert not lookup_batches.batchable([*joins, request("queue", id="d")])
