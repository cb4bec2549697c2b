"""Stages of a workflow's members (pure), and the cache of what members wait for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from underway import App
from underway.dashboard.workflow_stages import (
    MAX_SHOWN_PER_STAGE,
    EdgeCache,
    stage_numbers,
    stages_of,
)
from underway.models import DependencyRule, Job, JobState

from .test_units import on_own_loop

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def job(job_id: str, rule: DependencyRule | None = None) -> Job:
    state = JobState.PENDING if rule is None else JobState.WAITING
    return Job(
        job_id, f"job-{job_id}", "default", 0, state, {}, 0, 1, NOW, NOW, dependency_rule=rule
    )


def test_a_member_comes_one_stage_after_the_latest_thing_it_waits_for() -> None:
    # a -> (b, c -> d) -> e: e waits for b and d, so it comes after d's stage, not b's.
    edges = {"a": [], "b": ["a"], "c": ["a"], "d": ["c"], "e": ["b", "d"]}
    assert stage_numbers(edges) == {"a": 1, "b": 2, "c": 2, "d": 3, "e": 4}


def test_members_that_wait_for_nothing_are_stage_one_in_the_order_stored() -> None:
    jobs = [job("x"), job("y", "completed"), job("z")]
    stages = stages_of(jobs, {"y": ["x", "z"]}, "workflow")

    assert [(s.number, [m.job.id for m in s.members]) for s in stages] == [
        (1, ["x", "z"]),
        (2, ["y"]),
    ]
    assert stages[1].members[0].waits_for == 2
    assert stages[1].members[0].callback is None


def test_a_long_chain_needs_no_recursion() -> None:
    edges = {str(i): [str(i - 1)] if i else [] for i in range(5000)}
    assert stage_numbers(edges)["4999"] == 5000


def test_what_a_member_waits_for_outside_the_workflow_is_ignored() -> None:
    jobs = [job("a", "completed"), job("b", "completed")]
    stages = stages_of(jobs, {"a": ["pruned"], "b": ["a", "a"]}, "workflow")
    assert [(s.number, [m.job.id for m in s.members]) for s in stages] == [(1, ["a"]), (2, ["b"])]
    assert stages[1].members[0].waits_for == 1


def test_a_cycle_storage_never_makes_still_lists_every_member() -> None:
    assert stage_numbers({"a": ["b"], "b": ["a"], "c": []}) == {"a": 2, "b": 2, "c": 1}


def test_a_batchs_callbacks_are_named_by_their_rule() -> None:
    members = [job("m1"), job("m2")]
    callbacks = [job("done", "ended"), job("ok", "completed"), job("bad", "failed")]
    after = {c.id: ["m1", "m2"] for c in callbacks}

    [first, second] = stages_of([*members, *callbacks], after, "batch")

    assert [m.callback for m in first.members] == [None, None]
    assert [m.callback for m in second.members] == ["on_complete", "on_success", "on_failure"]
    [workflow_stage] = stages_of([job("ok", "completed")], {}, "workflow")
    assert workflow_stage.members[0].callback is None


def test_a_large_stage_lists_its_first_members_and_counts_the_rest() -> None:
    jobs = [job(str(i)) for i in range(MAX_SHOWN_PER_STAGE + 7)]
    [stage] = stages_of(jobs, {}, "batch")
    assert (len(stage.members), stage.hidden) == (MAX_SHOWN_PER_STAGE, 7)


class CountingApp:
    """Stands in for the app's read of what jobs wait for, counting the reads."""

    def __init__(self) -> None:
        self.reads = 0

    async def waits_for_async(self, jobs: Iterable[Job]) -> dict[str, tuple[str, ...]]:
        self.reads += 1
        return {j.id: ("a",) for j in jobs if j.dependency_rule is not None}


def test_edges_are_read_again_only_when_the_members_change() -> None:
    app, cache = CountingApp(), EdgeCache(size=2)
    members: Sequence[Job] = [job("a"), job("cb", "ended")]

    def get(workflow_id: str, jobs: Sequence[Job]) -> Any:
        return on_own_loop(cache.get(cast(App, app), workflow_id, jobs))

    assert get("w1", members) == {"cb": ("a",)}
    assert get("w1", members) == {"cb": ("a",)}
    assert app.reads == 1
    get("w1", [*members, job("added")])
    assert app.reads == 2
    get("w2", members)
    get("w3", members)
    get("w1", [*members, job("added")])
    assert app.reads == 5
