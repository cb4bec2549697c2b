"""What a job that waited for others receives of them before it runs."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..backends.base import Backend
from ..context import JobContext
from ..jobs import JobDefinition
from ..models import Job, JobState
from ..workflow_models import BatchSummary, DependencyOutcome

COMPLETED = JobState.COMPLETED


async def dependent_arguments(
    job_id: str, definition: JobDefinition, backend: Backend, ctx: JobContext
) -> dict[str, Any]:
    """The call arguments of a job that waited for others: its own, plus their results in
    the parameter it named (`results_into`), validated as its own are. The context learns
    how they ended."""
    job = await backend.get(job_id)
    assert job is not None, "a claimed job is running, so it exists"
    outcomes = await backend.dependencies(job_id)
    ctx.dependencies = outcomes
    if job.results_into is None:
        return definition.load_args(job.args)
    return definition.load_args({**job.args, job.results_into: received(job, outcomes)})


def received(job: Job, outcomes: list[DependencyOutcome]) -> Any:
    """The dependencies' results as the job takes them: one result, a list of results (None
    for one that did not complete), or a batch's summary."""
    results = [outcome.result if outcome.state is COMPLETED else None for outcome in outcomes]
    if job.results_shape == "value":
        return results[0] if results else None
    if job.results_shape == "summary":
        return dataclasses.asdict(BatchSummary.of(job.workflow_id or "", outcomes))
    return results
