"""underway's workflow scenarios (issue "Workflows"), on SQLite and PostgreSQL, one worker.

- fan-out: `chain(group(10,000 no-op members), fanin.receiving().step())` stored with
  `app.start`, then drained, against a plain drain of 10,001 of the same no-op jobs stored
  with `enqueue_many`, in the same round;
- chain: 1,000 steps, each receiving the previous one's result, timed from `app.start` to
  the last step's end; beside it, with the same worker just before, the plain enqueue→start
  latency of single jobs.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from underway import App, Job, chain, group

from . import workflow_app
from .measure import CpuMeter, medians, of_plain, percentile, say, workers
from .underway_cases import Underway

#: Jobs per enqueue_many call of the plain drain.
CHUNK = 10_000
WARMUP_JOBS = 20
#: Rounds of the fan-out at least, in a full run, each beside a plain drain of its own (just
#: before it in odd rounds, just after it in even ones): a drain lasts under a second, over
#: which this machine's speed can change by a tenth, so ratios of single drains spread widely.
FAN_ROUNDS = 9

Attempt = Callable[[str, Callable[[], Any]], Any]


@dataclass(frozen=True)
class WorkflowPlan:
    """Sizes: the full run's, or the quick run's."""

    runs: int
    fan_rounds: int = FAN_ROUNDS
    members: int = 10_000
    steps: int = 1_000
    latency_n: int = 200
    latency_gap_s: float = 0.02

    @classmethod
    def of(cls, quick: bool, runs: int) -> WorkflowPlan:
        if quick:
            return cls(1, fan_rounds=1, members=2_000, steps=200, latency_n=100)
        return cls(runs, fan_rounds=max(runs, FAN_ROUNDS))


class WorkflowBench:
    """The scenarios on one underway system (its database and its worker command)."""

    def __init__(self, system: Underway, plan: WorkflowPlan) -> None:
        self.system = system
        self.plan = plan
        self.probe = system.ctx.probe
        self.steps_file = Path(system.ctx.workdir) / "steps"
        self.app: App | None = None
        self.command = [
            "bench.workflow_app:app" if part == "bench.underway_app:app" else part
            for part in system.worker_command()
        ]

    def fresh(self) -> App:
        """An empty database, and an app with the workflow jobs to start them."""
        self.close()
        self.system.reset()
        app = App(self.system.url)
        app.registry.update(workflow_app.app.registry)
        self.app = app
        self.probe.reset()
        self.steps_file.write_bytes(b"")
        return app

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None

    def env(self) -> dict[str, str]:
        return {
            **self.probe.env(),
            **self.system.worker_env(),
            workflow_app.STEPS_ENV: str(self.steps_file),
        }

    def completed(self) -> int:
        return self.system._count("SELECT count(*) FROM {jobs} WHERE state = 'completed'")

    # -- fan-out -----------------------------------------------------------------------------

    def drain(self, n: int) -> dict[str, float]:
        """One worker runs the n jobs stored: jobs/s from the first completion to the n-th,
        the clock stopping only once the database also records all n completed; the CPU
        of the worker and of the database server per job over that time."""
        with workers(self.command, self.env(), 1) as running:
            cpu = CpuMeter(running.pids)
            try:
                first, _ = self.probe.wait_count(n, max(120.0, n / 50), running, cpu.start)
            except TimeoutError:
                running.check()
                raise
            deadline = time.monotonic() + 60
            while self.completed() < n:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.completed()} of {n} jobs recorded completed")
                time.sleep(0.01)
            last = time.perf_counter()
            cost = cpu.per_job_us(n)
        return {"rate": n / (last - first), "n": n, "seconds": last - first, **cost}

    def plain(self) -> dict[str, float]:
        """members + 1 no-op jobs stored with enqueue_many, then drained."""
        n = self.plan.members + 1
        app = self.fresh()
        began = time.perf_counter()
        for start in range(0, n, CHUNK):
            app.enqueue_many("member", [{"n": i} for i in range(start, min(n, start + CHUNK))])
        stored = time.perf_counter() - began
        return {**self.drain(n), "store_s": stored}

    def fan_out(self) -> dict[str, float]:
        """A group of `members` no-op jobs and a fan-in receiving their results, stored with
        one app.start, then drained."""
        app = self.fresh()
        members = [workflow_app.member.step(i) for i in range(self.plan.members)]
        flow = chain(group(*members), workflow_app.fanin.receiving().step())
        began = time.perf_counter()
        handle = app.start(flow)
        stored = time.perf_counter() - began
        figures = self.drain(self.plan.members + 1)
        state = handle.status().state
        if state != "completed":
            raise RuntimeError(f"the fan-out workflow ended {state}")
        return {**figures, "store_s": stored, **fan_in_times(handle.jobs())}

    def manage(self) -> dict[str, float]:
        """The fan-out's workflow stored (no worker), then cancelled and retried through its
        handle: each call's time, and its status read after it."""
        app = self.fresh()
        members = [workflow_app.member.step(i) for i in range(self.plan.members)]
        handle = app.start(chain(group(*members), workflow_app.fanin.receiving().step()))
        figures: dict[str, float] = {"members": self.plan.members}
        for action in ("cancel", "retry", "status"):
            began = time.perf_counter()
            getattr(handle, action)()
            figures[f"{action}_ms"] = (time.perf_counter() - began) * 1000
        return figures

    # -- chain -------------------------------------------------------------------------------

    def latency(self) -> dict[str, float]:
        """Enqueue→start (ms) of single no-op jobs sent one at a time to the idle worker."""
        assert self.app is not None
        time.sleep(1.0)  # idle, as the latency scenario leaves its worker
        self.probe.reset()
        for _ in range(self.plan.latency_n):
            self.app.enqueue("noop", {"sent": time.time()})
            time.sleep(self.plan.latency_gap_s)
        deadline = time.monotonic() + 30
        while len(self.probe.delays_ms()) < self.plan.latency_n:
            if time.monotonic() > deadline:
                raise TimeoutError("latency jobs did not all start")
            time.sleep(0.05)
        delays = self.probe.delays_ms()
        return {"latency_p50_ms": percentile(delays, 50), "latency_p95_ms": percentile(delays, 95)}

    def chain(self) -> dict[str, float]:
        """One worker, warmed up: the plain enqueue→start latency, then, idle again, a chain
        of `steps` steps from app.start to the last step's end."""
        app = self.fresh()
        steps = self.plan.steps
        flow = chain(
            workflow_app.link.step(0),
            *(workflow_app.link.receiving().step() for _ in range(steps - 1)),
        )
        with workers(self.command, self.env(), 1) as running:
            for _ in range(WARMUP_JOBS):
                app.enqueue("noop", {})
            self.probe.wait_count(WARMUP_JOBS, 60, running)
            plain = self.latency()
            time.sleep(1.0)
            began = time.time()
            handle = app.start(flow)
            stored = time.time() - began
            rows = self.wait_for_steps(steps, began, running.check)
            state = handle.wait(60).state
        if state != "completed":
            raise RuntimeError(f"the chain ended {state}")
        return {**plain, **chain_figures(rows, began), "store_ms": stored * 1000, "steps": steps}

    def wait_for_steps(
        self, steps: int, began: float, alive: Callable[[], None]
    ) -> list[tuple[int, float, float]]:
        """(previous, start, end) of each step, in chain order, once all have ended."""
        deadline = time.monotonic() + 30 + steps * 0.2
        while True:
            rows = sorted(
                (int(p), float(s), float(e))
                for p, s, e in (line.split() for line in self.steps_file.read_text().splitlines())
            )
            if len(rows) >= steps:
                break
            if time.monotonic() > deadline:
                alive()
                done = len(rows)
                raise TimeoutError(
                    f"{done} of {steps} chain steps ended in {time.time() - began:.0f} s"
                )
            time.sleep(0.05)
        if [p for p, _, _ in rows] != list(range(steps)):
            raise RuntimeError("the chain's steps did not each pass on the previous result")
        return rows


def fan_in_times(jobs: list[Job]) -> dict[str, float]:
    """From the rows (the database's clock): the fan-in's claim after its last member's
    finish, and the fan-in's own run (its members' results read and validated)."""
    *members, fan_in = jobs
    last = max(j.finished_at for j in members if j.finished_at)
    if fan_in.started_at is None or fan_in.finished_at is None:
        raise RuntimeError("the fan-in has no start or end recorded")
    return {
        "fanin_claimed_after_ms": (fan_in.started_at - last).total_seconds() * 1000,
        "fanin_run_ms": (fan_in.finished_at - fan_in.started_at).total_seconds() * 1000,
    }


def chain_figures(rows: list[tuple[int, float, float]], began: float) -> dict[str, float]:
    """Per step from app.start to the last step's end; hand-off from a step's end to the
    next one's start."""
    handoffs = [(b[1] - a[2]) * 1000 for a, b in itertools.pairwise(rows)]
    total = rows[-1][2] - began
    return {
        "total_s": total,
        "per_step_ms": total / len(rows) * 1000,
        "handoff_p50_ms": percentile(handoffs, 50),
        "handoff_p95_ms": percentile(handoffs, 95),
        "handoff_max_ms": max(handoffs, default=float("nan")),
        "first_start_ms": (rows[0][1] - began) * 1000,
    }


def measure(system: Underway, quick: bool, runs: int, attempt: Attempt) -> dict[str, Any]:
    """The workflow scenarios on one system: the fan-out in rounds, each beside a plain
    drain of its own; then the chain and the cancel-and-retry, in rounds."""
    plan = WorkflowPlan.of(quick, runs)
    bench = WorkflowBench(system, plan)
    name = f"underway-{system.backend} workflows"
    cases = {
        "plain": bench.plain,
        "fan_out": bench.fan_out,
        "chain": bench.chain,
        "manage": bench.manage,
    }
    rounds: dict[str, list[dict[str, float]]] = defaultdict(list)
    pairs: list[tuple[dict[str, float], dict[str, float]]] = []
    try:
        for number in range(plan.fan_rounds):
            order = ("fan_out", "plain") if number % 2 else ("plain", "fan_out")
            got = {case: attempt(f"{name} {case}", cases[case]) or {} for case in order}
            for case, figures in got.items():
                rounds[case].append(figures)
            pairs.append((got["plain"], got["fan_out"]))
        for _ in range(plan.runs):
            for case in ("chain", "manage"):
                rounds[case].append(attempt(f"{name} {case}", cases[case]) or {})
    finally:
        bench.close()
    say(f"  {name}: done")
    out: dict[str, Any] = {case: medians(found) for case, found in rounds.items()}
    if "rate" in out["fan_out"]:
        out["fan_out"]["of_plain"] = of_plain(pairs)
    out["fan_rounds"] = plan.fan_rounds
    return out
