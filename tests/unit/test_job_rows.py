"""Jobs built from stored values are the frozen Job their fields make."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from underway.backends.rows import new_job
from underway.models import Job, JobState

AT = datetime(2030, 1, 2, tzinfo=UTC)
VALUES = (
    *("id-1", "noop", "default", 3, JobState.COMPLETED, {"x": 1}, 2, 5, AT, AT),
    *(AT, AT, None, "worker", 100.0, "done", [1], None, (), "fp", "queue", "lane"),
    *(True, 60.0, 4, 1, None, "why", "rec", AT, 1, 2, "key"),
    *("workflow-1", 2, 1, "completed", 0, "counts", "list"),
)


def test_a_job_built_from_values_equals_the_job_its_constructor_builds() -> None:
    built = new_job(*VALUES)
    assert type(built) is Job
    assert built == Job(*VALUES)
    assert dataclasses.astuple(built) == dataclasses.astuple(Job(*VALUES))


def test_a_job_built_from_values_is_frozen() -> None:
    built = new_job(*VALUES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.state = JobState.FAILED  # type: ignore[misc]
    assert dataclasses.replace(built, state=JobState.FAILED).state is JobState.FAILED
