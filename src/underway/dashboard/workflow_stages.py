"""A workflow's members grouped by stage: a member's stage is one more than the largest stage
of what it waits for (members that wait for nothing are stage 1)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..app import App
from ..models import Job
from ..workflow_models import WorkflowKind

#: What a batch's callback is called, by the rule it runs under.
CALLBACKS = {"ended": "on_complete", "completed": "on_success", "failed": "on_failure"}
#: A stage lists this many members; the page says how many more it holds.
MAX_SHOWN_PER_STAGE = 200


@dataclass(frozen=True, slots=True)
class Member:
    """One job of a workflow as the page lists it."""

    job: Job
    #: How many of its members it waits for (its edges within the workflow).
    waits_for: int
    #: "on_success" and the like for a batch's callback, else None.
    callback: str | None


@dataclass(frozen=True, slots=True)
class Stage:
    """The members of one stage, in the order they were stored, and how many are not shown."""

    number: int
    members: list[Member]
    hidden: int = 0


def stages_of(
    jobs: Sequence[Job], waits_for: Mapping[str, Sequence[str]], kind: WorkflowKind
) -> list[Stage]:
    """Group `jobs` by stage; what a job waits for outside `jobs` (pruned since) is ignored."""
    ids = {job.id for job in jobs}
    edges = {
        job.id: [d for d in dict.fromkeys(waits_for.get(job.id, ())) if d in ids] for job in jobs
    }
    numbers = stage_numbers(edges)
    grouped: dict[int, list[Member]] = {}
    for job in jobs:
        callback = CALLBACKS.get(job.dependency_rule or "") if kind == "batch" else None
        member = Member(job, len(edges[job.id]), callback)
        grouped.setdefault(numbers[job.id], []).append(member)
    return [
        Stage(n, members[:MAX_SHOWN_PER_STAGE], max(0, len(members) - MAX_SHOWN_PER_STAGE))
        for n, members in sorted(grouped.items())
    ]


def stage_numbers(edges: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each job's stage, in topological order (no recursion: a chain may be thousands long).
    A job on a cycle, which storage never makes, is put after every other."""
    dependents: dict[str, list[str]] = {job_id: [] for job_id in edges}
    left = {job_id: len(after) for job_id, after in edges.items()}
    for job_id, after in edges.items():
        for dependency in after:
            dependents[dependency].append(job_id)
    numbers = {job_id: 1 for job_id, n in left.items() if n == 0}
    ready = list(numbers)
    while ready:
        job_id = ready.pop()
        for dependent in dependents[job_id]:
            numbers[dependent] = max(numbers.get(dependent, 1), numbers[job_id] + 1)
            left[dependent] -= 1
            if left[dependent] == 0:
                ready.append(dependent)
    last = max(numbers.values(), default=0) + 1
    return {job_id: numbers.get(job_id, last) for job_id in edges}


class EdgeCache:
    """What the members of recently shown workflows wait for. A stored job's edges change only
    when its workflow gains members (a batch's callbacks wait for new members too), so they
    are read again only then: a live refresh costs no query per member."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = (
            OrderedDict()
        )

    async def get(
        self, app: App, workflow_id: str, jobs: Sequence[Job]
    ) -> Mapping[str, Sequence[str]]:
        members = tuple(job.id for job in jobs)
        cached = self._entries.get(workflow_id)
        if cached is not None and cached[0] == members:
            self._entries.move_to_end(workflow_id)
            return cached[1]
        edges = await app.waits_for_async(jobs)
        self._entries[workflow_id] = (members, edges)
        self._entries.move_to_end(workflow_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return edges
