"""Workflow faults (issue "Workflows"): workers SIGKILLed and crashing as the last members
of fan-ins and batches finish, and two workers finishing a fan-in's last two members at the
same instant. The ledger is the oracle: each fan-in and batch callback runs exactly once
(re-runs of attempts whose worker was lost aside), never before its members ended, and no
workflow is left waiting."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from tests.faults import probe, workflow_probe
from tests.faults.harness import FaultRun, check, report, violations_of
from tests.faults.test_worker_faults import supervise
from tests.faults.workflow_oracle import Tracked, WorkflowLedger, keys, violations
from tests.waiting import wait_until
from underway import chain, group
from underway.app.workflows import Step

MEMBERS = 10
ROUNDS = 4
#: Crashes in the finish itself, before and after its commit, on every worker.
FINISH_CRASHES = "before_finish:exit@p=0.1,after_finish:exit@p=0.1"
WORKFLOW_APP = ("--app", "tests.faults.workflow_probe:app")


def members(prefix: str, rng: random.Random) -> list[Step[Any]]:
    return [
        probe.probe.step(key=f"{prefix}{i}", duration_ms=rng.randrange(50, 300))
        for i in range(MEMBERS)
    ]


class LastMemberKiller:
    """SIGKILLs, once per workflow, the worker that just ended its last or second-to-last
    member (chosen at random), moments after that end: as the member's outcome is written,
    or as what that finish released is claimed."""

    def __init__(self, run: FaultRun, rng: random.Random) -> None:
        self.run = run
        self.rng = rng
        self.targets: dict[Tracked, int] = {}
        self.kills = 0

    def watch(self, tracked: Tracked) -> None:
        self.targets[tracked] = MEMBERS - self.rng.randrange(2)

    def __call__(self) -> None:
        ledger = [r for r in self.run.ledger() if r["ev"] == "end"]
        for tracked, after in list(self.targets.items()):
            ends = sorted(
                (r["t"], r["pid"], r["job"]) for r in ledger if r["job"] in tracked.stages[0]
            )
            if len({job for _, _, job in ends}) >= after:
                del self.targets[tracked]
                alive = [p for p in self.run.workers if p.pid == ends[-1][1] and p.poll() is None]
                if alive:
                    self.run.kill(alive[0])
                    self.kills += 1


def restart_dead(run: FaultRun, start: Callable[[], Any]) -> None:
    """Start a worker for each one that died (as a process supervisor would)."""
    for process in list(run.workers):
        if process.poll() is not None:
            run.workers.remove(process)
            start()


def test_sigkills_as_the_last_members_of_fan_ins_and_batches_finish(
    run: FaultRun, seed: int
) -> None:
    """(a) Rounds of a fan-out of 10 with its fan-in and a batch of 10 with its callback; 2
    workers crash before or after 10% of their finish commits, and the worker that ends a
    workflow's last (or second-to-last) member is SIGKILLed moments later. A round starts
    once the one before had its kills, so that recoveries overlap. Every member completes;
    each fan-in and callback runs once, after its members; nothing is left waiting."""
    rng = random.Random(seed)
    tracked = WorkflowLedger(run)
    killer = LastMemberKiller(run, rng)

    def start() -> None:
        run.start_worker(faults=FINISH_CRASHES, extra=("--max-losses=8",))

    start()
    start()
    for r in range(ROUNDS):
        fan_out = members(f"r{r}w", rng)
        fan_in = probe.probe.step(key=f"r{r}-fanin")
        batch = members(f"r{r}b", rng)
        flows = [
            tracked.start(chain(group(*fan_out), fan_in), [keys(fan_out), keys([fan_in])]),
            tracked.batch(batch, on_complete=probe.probe.step(key=f"r{r}-callback")),
        ]
        for flow in flows:
            killer.watch(flow)

        def killed(watched: list[Tracked] = flows) -> bool:
            return not set(watched) & set(killer.targets)

        supervise(run, killed, 40, start, killer)

    def supervising() -> None:
        killer()
        restart_dead(run, start)

    tracked.wait_ended(tracked.tracked, timeout=40, every=supervising)
    verdict = tracked.verdict()
    figures = check(run)
    figures.seed = seed
    figures.notes.update(verdict, kills=killer.kills, crashes=run.crash_count())
    found = violations(verdict) + violations_of(figures, recovery=False)
    report(figures, found)
    assert killer.kills > 0
    assert figures.completed == len(run.acked)
    assert not found


def test_two_workers_finish_the_last_two_members_at_the_same_instant(run: FaultRun) -> None:
    """(b) Each round, 6 fan-outs and 6 batches whose last two members run on two workers
    (one serves queue `left`, the other `right`) and end at the same wall-clock instant;
    their finishes race to count the last two edges. Each fan-in and callback is released
    exactly once, after both; none is left waiting."""
    rounds, per_round = 8, 6
    tracked = WorkflowLedger(run)
    for queues in ("left,default", "right,default"):
        run.start_worker(concurrency=2 * per_round + 4, extra=(*WORKFLOW_APP, f"--queues={queues}"))
    wait_until(lambda: len(run.app.workers()) == 2, timeout=30)
    pairs: list[tuple[str, str]] = []
    for r in range(rounds):
        at = time.time() + 1.0
        flows = []
        for k in range(per_round):
            for kind in ("w", "b"):
                tag = f"r{r}{kind}{k}"
                last_two = [
                    workflow_probe.meet.options(queue=side).step(key=f"{tag}-{side}", at=at)
                    for side in ("left", "right")
                ]
                parts = [probe.probe.step(key=f"{tag}-early"), *last_two]
                after = probe.probe.step(key=f"{tag}-last")
                if kind == "w":
                    flow = chain(group(*parts), after)
                    flows.append(tracked.start(flow, [keys(parts), keys([after])]))
                else:
                    flows.append(tracked.batch(parts, on_complete=after))
                pairs.append((f"{tag}-left", f"{tag}-right"))
        tracked.wait_ended(flows, timeout=30)
    verdict = tracked.verdict()
    gaps = end_gaps_ms(run, pairs)
    figures = check(run)
    figures.notes.update(
        verdict,
        races=len(pairs),
        end_gap_ms_p50=round(statistics.median(gaps), 2),
        end_gap_ms_max=round(max(gaps), 2),
        within_5ms=sum(1 for g in gaps if g <= 5),
    )
    found = violations(verdict) + violations_of(figures, recovery=False)
    report(figures, found)
    assert len(gaps) == len(pairs)
    assert statistics.median(gaps) < 50, "the two last members did not end together"
    assert not found


def end_gaps_ms(run: FaultRun, pairs: list[tuple[str, str]]) -> list[float]:
    """For each pair of `meet` keys, how far apart (ms, wall clock) the two ended."""
    ends = {r["key"]: r["wall"] for r in run.ledger() if r["ev"] == "end" and "wall" in r}
    return [abs(ends[a] - ends[b]) * 1000 for a, b in pairs if a in ends and b in ends]
