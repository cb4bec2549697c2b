"""EnqueueOptions: how and when one enqueue runs, apart from the job's arguments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from ..errors import ConfigurationError
from ..jobs import Dependencies
from ..models import DependencyRule

DEPENDENCY_RULES: tuple[DependencyRule, ...] = ("completed", "ended", "failed")


@dataclass(frozen=True, slots=True)
class EnqueueOptions:
    """How and when one enqueue runs; the job's arguments are never among these."""

    delay: float | timedelta | None = None
    run_at: datetime | None = None
    priority: int | None = None
    queue: str | None = None
    idempotency_key: str | None = None
    on_duplicate: Literal["raise"] | None = None
    connection: Any = None
    #: The ids of the jobs it waits for, and how it takes their outcomes.
    after: tuple[str, ...] = ()
    run_if: DependencyRule = "completed"
    tolerate: int = 0
    results_into: str | None = None

    def __post_init__(self) -> None:
        if self.delay is not None and self.run_at is not None:
            raise ConfigurationError("give delay= or run_at=, not both")
        if self.run_if not in DEPENDENCY_RULES:
            raise ConfigurationError(f"run_if must be one of {DEPENDENCY_RULES}")
        if self.tolerate < 0:
            raise ConfigurationError("tolerate must not be negative")

    def dependencies(self) -> Dependencies | None:
        """What an enqueue with these options waits for, if anything (a workflow's steps
        get theirs from where they stand in it instead)."""
        if not self.after:
            if self.results_into or self.run_if != "completed" or self.tolerate:
                raise ConfigurationError(
                    "results_into, run_if and tolerate need after= (or a place in a workflow)"
                )
            return None
        return Dependencies(self.after, None, self.run_if, self.tolerate, self.results_into, "list")


NO_OPTIONS = EnqueueOptions()


class HasId(Protocol):
    """A job handle, or anything else naming a stored job by its `id`."""

    @property
    def id(self) -> str: ...


def ids_of(jobs: Iterable[HasId | str]) -> tuple[str, ...]:
    """The ids of jobs given as handles or ids."""
    if isinstance(jobs, str):
        raise ConfigurationError("after= takes a list of handles or ids, not one string")
    return tuple(job if isinstance(job, str) else job.id for job in jobs)
