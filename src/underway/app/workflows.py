"""Workflow shapes: steps, chains and groups, and how they become jobs that wait for each
other. A chain runs its parts one after another; a group runs its parts side by side and
ends when all have ended; a step after a group is its fan-in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from uuid_utils import uuid7

from ..errors import ConfigurationError
from ..job_options import aware_run_at, seconds
from ..jobs import Dependencies, JobDefinition
from ..models import DependencyRule, NewJob, ResultsShape
from ..workflow_models import NewWorkflow, WorkflowKind
from .enqueue_options import EnqueueOptions

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Step(Generic[R]):
    """One job of a workflow, its arguments validated (`job.step(...)`), typed by its result.
    Its job object's options apply: queue, priority, delay, and `run_if`, `tolerate` and
    `results_into` for what it waits for."""

    definition: JobDefinition
    args: dict[str, Any]
    options: EnqueueOptions


@dataclass(frozen=True, slots=True)
class Chain:
    """Parts run one after another; each step can take the previous part's results."""

    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """Parts run side by side; what follows waits for all of them, and runs if no more than
    `tolerate` of them failed."""

    parts: tuple[Part, ...]
    tolerate: int = 0


Part = Step[Any] | Chain | Group


def chain(*parts: Part) -> Chain:
    """Run the parts one after another: a step given `results_into` receives the previous
    step's result, or the list of a previous group's results."""
    return Chain(_checked(parts, "chain"))


def group(*parts: Part, tolerate: int = 0) -> Group:
    """Run the parts side by side; a step after the group (in a chain) runs once all ended,
    if no more than `tolerate` failed, and can receive their results in order."""
    if tolerate < 0:
        raise ConfigurationError("tolerate must not be negative")
    return Group(_checked(parts, "group"), tolerate)


def _checked(parts: Sequence[Any], what: str) -> tuple[Part, ...]:
    if not parts:
        raise ConfigurationError(f"a {what} needs at least one part")
    for part in parts:
        if not isinstance(part, Step | Chain | Group):
            raise ConfigurationError(
                f"a {what} takes steps (job.step(...)), chains and groups, got {part!r}"
            )
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class _Exits:
    """What the next part waits for: these jobs, their results given in this shape, this many
    failures among them tolerated."""

    ids: tuple[str, ...] = ()
    shape: ResultsShape = "list"
    tolerate: int = 0


class WorkflowJobs:
    """Builds the rows of one workflow or batch, in an order where each job comes after the
    jobs it waits for."""

    def __init__(self, kind: WorkflowKind, name: str | None) -> None:
        self.workflow = NewWorkflow(str(uuid7()), name, kind)
        self.jobs: list[NewJob] = []

    def add(self, part: Part, before: _Exits | None = None) -> _Exits:
        """Add a part after `before` (nothing: it starts at once); returns its own exits."""
        before = before or _Exits()
        if isinstance(part, Step):
            return _Exits((self._step(part, before).id,), "value")
        if isinstance(part, Chain):
            for inner in part.parts:
                before = self.add(inner, before)
            return before
        exits = [self.add(inner, before) for inner in part.parts]
        return _Exits(tuple(i for e in exits for i in e.ids), "list", part.tolerate)

    def callback(self, step: Step[Any], rule: DependencyRule, members: Iterable[str]) -> None:
        """A batch's callback: waits for every member, and receives the batch's summary."""
        self._step(step, _Exits(tuple(members), "summary"), rule)

    def _step(self, step: Step[Any], before: _Exits, rule: DependencyRule | None = None) -> NewJob:
        options = step.options
        if options.results_into and not before.ids:
            raise ConfigurationError(
                f"step {step.definition.name!r} receives results in "
                f"{options.results_into!r}, but nothing comes before it"
            )
        new = step.definition.new_job(
            step.args,
            validated=True,
            delay=seconds(options.delay, "delay") or 0.0,
            run_at=aware_run_at(options.run_at),
            priority=options.priority,
            queue=options.queue,
            dependencies=Dependencies(
                after=before.ids,
                workflow_id=self.workflow.id,
                rule=rule or options.run_if,
                tolerate=max(options.tolerate, before.tolerate),
                results_into=options.results_into,
                results_shape=before.shape,
            ),
        )
        self.jobs.append(new)
        return new


def batch_members(batch_id: str, steps: Iterable[Step[Any]]) -> list[NewJob]:
    """Jobs added to a batch: members of it that wait for nothing."""
    jobs = WorkflowJobs("batch", None)
    jobs.workflow = replace(jobs.workflow, id=batch_id)
    for step in steps:
        if not isinstance(step, Step):
            raise ConfigurationError(f"a batch takes steps (job.step(...)), got {step!r}")
        jobs.add(step)
    return jobs.jobs
