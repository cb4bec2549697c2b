"""Plain data of workflows and batches: what is stored, what is read back, and what a job
that depends on others learns of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .models import JobError, JobState

WorkflowKind = Literal["workflow", "batch"]
#: A workflow's state, from its members': "active" while any member may still run.
WorkflowState = Literal["active", "completed", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class NewWorkflow:
    """A workflow or batch to store with its first jobs."""

    id: str
    name: str | None
    kind: WorkflowKind = "workflow"


@dataclass(frozen=True, slots=True)
class Workflow:
    """A stored workflow or batch with its members counted per state."""

    id: str
    name: str | None
    kind: WorkflowKind
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def ended(self) -> int:
        return sum(n for state, n in self.counts.items() if JobState(state).is_finished)

    @property
    def progress(self) -> float:
        """The share of members that ended, in percent (as a job's progress is)."""
        return 100.0 * self.ended / self.total if self.total else 100.0

    @property
    def state(self) -> WorkflowState:
        """Active while a member may still run; then failed if one failed, cancelled if one
        was cancelled, else completed (a callback skipped by its rule is no failure)."""
        if self.ended < self.total:
            return "active"
        if self.counts.get(JobState.FAILED, 0):
            return "failed"
        if self.counts.get(JobState.CANCELLED, 0):
            return "cancelled"
        return "completed"


@dataclass(frozen=True, slots=True)
class DependencyOutcome:
    """How one job that another depends on ended, as the dependent sees it."""

    job_id: str
    name: str
    state: JobState
    result: Any = None
    error: JobError | None = None

    @property
    def completed(self) -> bool:
        return self.state is JobState.COMPLETED


@dataclass(frozen=True, slots=True)
class WorkflowPage:
    """One page of workflows, newest first, with the total count."""

    workflows: list[Workflow]
    total: int


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a batch's callback receives (`results_into`): how its members ended."""

    batch_id: str
    total: int
    completed: int
    failed: int
    cancelled: int
    skipped: int
    failed_ids: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, batch_id: str, members: list[DependencyOutcome]) -> BatchSummary:
        def count(state: JobState) -> int:
            return sum(1 for member in members if member.state is state)

        return cls(
            batch_id=batch_id,
            total=len(members),
            completed=count(JobState.COMPLETED),
            failed=count(JobState.FAILED),
            cancelled=count(JobState.CANCELLED),
            skipped=count(JobState.SKIPPED),
            failed_ids=[m.job_id for m in members if m.state is JobState.FAILED],
        )
