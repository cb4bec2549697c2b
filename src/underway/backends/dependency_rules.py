"""The rules of jobs that depend on others, which both dialects apply: what a dependent
becomes as its dependencies end, and what it records when it will not run.

A dependent waits (state `waiting`) while any dependency has not ended. Each dependency that
ends is counted once, on its edge: `waiting_on` goes down by one, and `failed_dependencies`
up by one if it did not complete. Then, in the same transaction as the dependency's end:
- rule "completed": more failures than `tolerate` cancel it at once (and so, in turn, what
  waits on it); else it runs once nothing is left to wait for;
- rule "ended": it runs once nothing is left to wait for, whatever became of them;
- rule "failed": once nothing is left to wait for, it runs if one or more did not complete,
  and is recorded skipped if all completed (a batch's on_failure callback).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import JobNotFound
from ..models import DependencyRule, JobError, JobState, NewJob

Verdict = Literal["waiting", "ready", "cancelled", "skipped"]

DEPENDENCY_FAILED = "DependencyFailed"
#: The skip reason of a rule "failed" dependent whose dependencies all completed.
NONE_FAILED = "none of the jobs it depends on failed"


def verdict(rule: DependencyRule, tolerate: int, waiting_on: int, failed: int) -> Verdict:
    """What a dependent is, given what became of its dependencies so far."""
    if rule == "completed" and failed > tolerate:
        return "cancelled"
    if waiting_on > 0:
        return "waiting"
    if rule == "failed" and failed == 0:
        return "skipped"
    return "ready"


@dataclass(frozen=True, slots=True)
class Waits:
    """What a new job with `after` ids starts as, given how its dependencies stand: its
    verdict, its counts, and per dependency the end state its edge records (None: not yet)."""

    verdict: Verdict
    waiting_on: int
    failed: int
    ended: tuple[str | None, ...]

    @property
    def state(self) -> JobState | None:
        """The state it is stored in (None: as any new job, pending or scheduled)."""
        return None if self.verdict == "ready" else JobState(self.verdict)


def waits_of(job: NewJob, states: Mapping[str, str]) -> Waits:
    """How `job` starts, given the states of the jobs it waits for; JobNotFound for an id
    that names no job."""
    ended: list[str | None] = []
    for dependency_id in job.after:
        state = states.get(dependency_id)
        if state is None:
            raise JobNotFound(dependency_id)
        ended.append(state if JobState(state).is_finished else None)
    waiting_on = ended.count(None)
    failed = sum(1 for state in ended if state is not None and state != JobState.COMPLETED)
    return Waits(
        verdict(job.dependency_rule, job.tolerate, waiting_on, failed),
        waiting_on,
        failed,
        tuple(ended),
    )


def ends_on_new_edges(
    waiting: Sequence[str], added: Sequence[str], states: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The ends that new edges, from each job of `waiting` to each of `added` (the states of
    the added jobs in `states`), count at once: (job waiting, the state its dependency ended
    in), one per edge to an added job that has ended already."""
    ended = [states[job_id] for job_id in added if JobState(states[job_id]).is_finished]
    return [(job_id, state) for state in ended for job_id in waiting]


def end_of_gone(state: str) -> str:
    """How a job whose row is deleted in `state` counts for the jobs that wait for it: as it
    ended, or as cancelled if it had not ended."""
    return state if JobState(state).is_finished else JobState.CANCELLED.value


def dependency_failed(failed: int, tolerate: int) -> JobError:
    """The error a dependent cancelled by its dependencies records (the dialects build the
    same text in SQL: `failed_message`)."""
    return JobError(type=DEPENDENCY_FAILED, message=failed_message(failed, tolerate))


def failed_message(failed: int, tolerate: int) -> str:
    return f"{failed} of the jobs it depends on did not complete (it tolerates {tolerate})"


def standing_in(job: NewJob, stored_as: Mapping[str, str]) -> NewJob:
    """The job waiting for what each of its dependencies was stored as: a member that joined
    an active job with the same arguments (unique="join") stands for that job, so what waits
    for the member waits for it."""
    if not any(dependency in stored_as for dependency in job.after):
        return job
    return dataclasses.replace(job, after=tuple(stored_as.get(i, i) for i in job.after))
