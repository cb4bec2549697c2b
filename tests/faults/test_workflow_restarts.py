"""(c) The database goes away mid-workflow (issue "Workflows"): PostgreSQL restarted (fast
and immediate) while a chain's group and a batch run; on SQLite, where the database is a
file that outlives its processes, every worker SIGKILLed at once and new ones started. The
workflow completes, each step ran, every stage after what it waits for, and its fan-in,
the step after it and the batch's callback once each."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import probe
from tests.faults.harness import FaultRun, check, report, violations_of
from tests.faults.workflow_oracle import WorkflowLedger, keys, violations
from tests.postgres.private_postgres import PrivateServer, private_postgres
from tests.waiting import wait_until
from underway import chain, group
from underway.app.workflows import Step

GROUP = 16


@pytest.fixture
def private_run(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[FaultRun, PrivateServer]]:
    """A fault run on a throwaway PostgreSQL server that the test may restart."""
    with private_postgres(durable=True) as server:
        run = FaultRun(tmp_path, request.node.originalname.removeprefix("test_"), server.url)
        run.app.stats()
        yield run, server
        run.stop()


def steps(prefix: str, n: int, rng: random.Random) -> list[Step[Any]]:
    return [
        probe.probe.step(key=f"{prefix}{i}", duration_ms=rng.randrange(100, 400)) for i in range(n)
    ]


def start_workflows(tracked: WorkflowLedger, rng: random.Random) -> list[str]:
    """A chain (a step, a group of 16, its fan-in, one more step) and a batch of 16 with a
    callback; returns the keys of the group's members, whose ends time the fault."""
    first, fan_out = steps("first", 1, rng), steps("g", GROUP, rng)
    fan_in, then = probe.probe.step(key="fanin"), probe.probe.step(key="then", duration_ms=100)
    flow = chain(*first, group(*fan_out), fan_in, then)
    tracked.start(flow, [keys(first), keys(fan_out), keys([fan_in]), keys([then])])
    tracked.batch(steps("b", GROUP, rng), on_complete=probe.probe.step(key="callback"))
    return keys(fan_out)


def group_ends(run: FaultRun, group_keys: list[str]) -> int:
    """How many of the group's members' code has ended (counting re-runs)."""
    return sum(1 for r in run.ledger() if r["ev"] == "end" and r["key"] in group_keys)


def judged(run: FaultRun, tracked: WorkflowLedger, exits: int, **notes: Any) -> list[str]:
    """Check the run, report its row, and return what it broke."""
    verdict = tracked.verdict()
    figures = check(run)
    figures.worker_exits = exits
    figures.notes.update(verdict, **notes)
    found = violations(verdict) + violations_of(figures, recovery=False)
    report(figures, found)
    return found


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restarted_mid_workflow(
    private_run: tuple[FaultRun, PrivateServer], mode: str
) -> None:
    """PostgreSQL restarts once a quarter of the group has ended: the workers ride it out
    and the workflow and the batch complete, each of their jobs having run."""
    run, server = private_run
    rng = random.Random(0)
    tracked = WorkflowLedger(run)
    group_keys = start_workflows(tracked, rng)
    run.start_worker()
    run.start_worker()
    wait_until(lambda: group_ends(run, group_keys) >= GROUP // 4, timeout=30)
    ended_before = group_ends(run, group_keys)
    server.restart(mode)
    ended_during = group_ends(run, group_keys)
    tracked.wait_ended(tracked.tracked, timeout=60)
    exits = sum(1 for p in run.workers if p.poll() is not None)
    found = judged(
        run,
        tracked,
        exits,
        mode=mode,
        group_ended_before_restart=ended_before,
        group_ended_when_back=ended_during,
    )
    assert ended_before < GROUP, "the restart came after the group had ended"
    assert exits == 0
    assert not found


def test_every_worker_killed_mid_workflow(sqlite_run: FaultRun) -> None:
    """SQLite: both workers SIGKILLed at once while the group runs (the database file is
    all that is left), then two new ones: the workflow and the batch complete, the jobs the
    dead workers held running again after the stall timeout."""
    run = sqlite_run
    rng = random.Random(0)
    tracked = WorkflowLedger(run)
    group_keys = start_workflows(tracked, rng)
    run.start_worker()
    run.start_worker()
    wait_until(lambda: group_ends(run, group_keys) >= GROUP // 4, timeout=30)
    killed = list(run.workers)
    for process in killed:
        run.kill(process)
    ended_before = group_ends(run, group_keys)
    run.start_worker()
    run.start_worker()
    tracked.wait_ended(tracked.tracked, timeout=60)
    exits = sum(1 for p in run.workers if p not in killed and p.poll() is not None)
    found = judged(run, tracked, exits, killed=len(killed), group_ended_before_kill=ended_before)
    assert ended_before < GROUP, "the kill came after the group had ended"
    assert not found
