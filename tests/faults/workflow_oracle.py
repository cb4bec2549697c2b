"""Workflows and batches started in a fault run, acknowledged, and judged from the ledger:
how many times each job's code ran to its end (less the re-runs its lost attempts explain),
whether a job started before what it waits for had ended (by the ledger) or was claimed
before their outcomes were written (by the rows), and what was left waiting."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.faults.harness import FaultRun
from underway import Job, JobState
from underway.app.workflow_handle import WorkflowHandle
from underway.app.workflows import Part, Step


@dataclass(frozen=True)
class Tracked:
    """One workflow or batch: its handle and its jobs' ids in stages, each stage waiting for
    the one before it (a fan-out's members, then its fan-in)."""

    handle: WorkflowHandle
    stages: tuple[tuple[str, ...], ...]

    @property
    def last(self) -> tuple[str, ...]:
        return self.stages[-1]


def keys(steps: Sequence[Step[Any]]) -> list[str]:
    """The probe keys of these steps, which name their jobs in a stage."""
    return [str(step.args["key"]) for step in steps]


class WorkflowLedger:
    """The workflows of one fault run, judged once the run is over."""

    def __init__(self, run: FaultRun) -> None:
        self.run = run
        self.tracked: list[Tracked] = []

    def start(self, flow: Part, stages: Sequence[Sequence[str]]) -> Tracked:
        """`app.start(flow)`; its jobs acknowledged once it returned. `stages` names them
        by their probe keys."""
        return self._track(self.run.app.start(flow), stages)

    def batch(self, members: Sequence[Step[Any]], on_complete: Step[Any]) -> Tracked:
        """`app.batch(members, on_complete=...)`, tracked as two stages."""
        handle = self.run.app.batch(members, on_complete=on_complete)
        return self._track(handle, [keys(members), keys([on_complete])])

    def _track(self, handle: WorkflowHandle, stages: Sequence[Sequence[str]]) -> Tracked:
        by_key = {str(job.args["key"]): job.id for job in handle.jobs()}
        tracked = Tracked(handle, tuple(tuple(by_key[k] for k in stage) for stage in stages))
        self.run.acked.update({i: i for stage in tracked.stages for i in stage})
        self.tracked.append(tracked)
        return tracked

    def active(self, among: Sequence[Tracked] | None = None) -> list[Tracked]:
        return [t for t in among or self.tracked if t.handle.status().state == "active"]

    def wait_ended(
        self, among: Sequence[Tracked], timeout: float, every: Callable[[], None] | None = None
    ) -> None:
        """Until each of them ended (`every()` between looks); a workflow still active at
        the deadline is one that waits forever."""
        deadline = time.monotonic() + timeout
        while left := self.active(among):
            if time.monotonic() > deadline:
                counts = [t.handle.status().counts for t in left]
                raise AssertionError(f"{len(left)} workflows still active: {counts}")
            if every is not None:
                every()
            time.sleep(0.02)

    def verdict(self) -> dict[str, Any]:
        """Figures over every tracked workflow, from the ledger and the rows."""
        jobs, ledger = self.run.jobs(), self.run.ledger()
        by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in ledger:
            by_job[record["job"]].append(record)
        runs = [runs_of(jobs[i], by_job[i]) for t in self.tracked for i in t.last]
        early = sum(
            released_early(jobs, by_job, before, after)
            for t in self.tracked
            for before, after in itertools.pairwise(t.stages)
        )
        claimed = sum(
            claimed_early(jobs, before, after)
            for t in self.tracked
            for before, after in itertools.pairwise(t.stages)
        )
        states = [t.handle.status().state for t in self.tracked]
        return {
            "workflows": len(self.tracked),
            "last_jobs_ran": sorted(set(runs)),
            "last_jobs_not_once": sum(1 for n in runs if n != 1),
            "released_early": early,
            "claimed_early": claimed,
            "not_completed": sum(1 for s in states if s != "completed"),
            "left_waiting": sum(1 for j in jobs.values() if j.state is JobState.WAITING),
        }


def runs_of(job: Job, records: list[dict[str, Any]]) -> int:
    """Runs of the job's code that ended, less those of attempts whose worker was lost
    (re-run after a fault, as the contract allows): 1 for a job that ran exactly once."""
    lost = {e.attempt for e in job.errors if e.type == "WorkerLost"}
    return sum(1 for r in records if r["ev"] == "end" and r["attempt"] not in lost)


def released_early(
    jobs: dict[str, Job],
    by_job: dict[str, list[dict[str, Any]]],
    before: Sequence[str],
    after: Sequence[str],
) -> int:
    """Jobs of `after` whose code first started before a job of `before` made its last end
    (the end of the attempt its row records)."""
    ends = [
        r["t"]
        for i in before
        for r in by_job[i]
        if r["ev"] == "end" and r["attempt"] == jobs[i].attempt
    ]
    done = max(ends, default=float("-inf"))
    starts = [min((r["t"] for r in by_job[i] if r["ev"] == "start"), default=None) for i in after]
    return sum(1 for s in starts if s is not None and s < done)


def claimed_early(jobs: dict[str, Job], before: Sequence[str], after: Sequence[str]) -> int:
    """Jobs of `after` claimed (their row's start) before a job of `before` was recorded
    finished: released before the last of them had its outcome written, so that a crash
    then would have run them without it."""
    ends = [jobs[i].finished_at for i in before]
    done = max((e for e in ends if e is not None), default=None)
    starts = [jobs[i].started_at for i in after]
    return sum(1 for s in starts if s is not None and done is not None and s < done)


def violations(verdict: dict[str, Any]) -> list[str]:
    """What the workflow contract forbids, from a verdict."""
    bad = ("last_jobs_not_once", "released_early", "claimed_early", "not_completed")
    bad += ("left_waiting",)
    return [f"{name}={verdict[name]}" for name in bad if verdict[name]]
