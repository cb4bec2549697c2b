"""The fault-suite harness: worker processes, faults, the acknowledgement log and the checker."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import POSTGRES_URL
from tests.faults import probe
from tests.overlap import peak_per_key
from underway import App, Job, JobState

ROOT = Path(__file__).resolve().parents[2]
CRASH_LINE = re.compile(r"crash point \w+ fired .* pid=(\d+) t=([\d.]+)")
TIMINGS = {
    "heartbeat_interval": 0.5,
    "stall_timeout": 3.0,
    "sweep_interval": 0.5,
    "poll_interval": 0.2,
}
#: R5: an orphan starts again within stall + sweep + poll (+1 s of slack for process start-up).
RECOVERY_BOUND_S = sum(TIMINGS[k] for k in ("stall_timeout", "sweep_interval", "poll_interval")) + 1
TERMINAL = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED)


@dataclass
class Figures:
    """One row of the fault table (the columns of the reliability contract that apply here)."""

    scenario: str
    backend: str = "sqlite"
    seed: int = 0
    acked: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    lost: int = 0
    dup_exec: int = 0
    fault_reruns: int = 0
    stale_overwrites: int = 0
    max_concurrency_per_fp: int = 0
    recover_s_p50: float = 0.0
    recover_s_max: float = 0.0
    worker_exits: int = 0
    duration_s: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    verdict: str = "pass"


class FaultRun:
    """Worker processes on one database, plus the ledger and the acknowledgement log."""

    def __init__(self, directory: Path, scenario: str, url: str | None = None) -> None:
        self.directory = directory
        self.url = url or f"sqlite:///{directory / 'jobs.db'}"
        self.backend = "sqlite" if self.url.startswith("sqlite:") else "postgres"
        self.env = {
            **os.environ,
            "UNDERWAY_DATABASE_URL": self.url,
            "FAULT_DIR": str(directory),
            "PYTHONPATH": str(ROOT),
        }
        self.app = App(self.url)
        self.app.registry.update(probe.app.registry)
        self.acked: dict[str, str] = {}
        self.faults: list[tuple[int, float]] = []  # (pid, monotonic time) of kills
        self.workers: list[subprocess.Popen[bytes]] = []
        self.spawned = 0
        self.figures = Figures(scenario, backend=self.backend)
        self.started = time.monotonic()

    def start_worker(
        self,
        concurrency: int = 4,
        faults: str = "",
        grace: float = 2.0,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        options = [f"--{k.replace('_', '-')}={v}" for k, v in TIMINGS.items()]
        env = {**self.env, **(env or {}), **({"UNDERWAY_FAULTS": faults} if faults else {})}
        self.spawned += 1
        log = (self.directory / f"worker-{self.spawned}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "underway",
                "worker",
                "--app",
                "tests.faults.probe:app",
                f"--concurrency={concurrency}",
                f"--shutdown-grace={grace}",
                *options,
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def enqueue(self, name: str, **args: Any) -> str:
        """Enqueue and record the acknowledgement only once enqueue has returned."""
        handle = self.app.enqueue(name, args)
        self.acked[handle.id] = handle.id
        return handle.id

    def enqueue_many(self, name: str, rows: list[dict[str, Any]]) -> list[str]:
        ids = [h.id for h in self.app.enqueue_many(name, rows)]
        self.acked.update({i: i for i in ids})
        return ids

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        self.faults.append((process.pid, time.monotonic()))
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def crashes(self) -> list[tuple[int, float]]:
        """(pid, monotonic time) of every crash point that fired."""
        found = []
        for path in self.directory.glob("worker-*.log"):
            text = path.read_text(errors="replace")
            found += [(int(m[1]), float(m[2])) for m in CRASH_LINE.finditer(text)]
        return found

    def crash_count(self) -> int:
        return len(self.crashes())

    def ledger(self) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for path in self.directory.glob("ledger-*.jsonl")
            for line in path.read_text().splitlines()
            if line
        ]

    def jobs(self) -> dict[str, Job]:
        return {job.id: job for job in self.app.list(limit=1_000_000)}

    def quiescent(self, expected: int) -> bool:
        counts = self.app.stats().counts
        return sum(counts.get(s.value, 0) for s in TERMINAL) >= expected

    def acked_finished(self) -> bool:
        """Every acknowledged job is finished. Not a count: an enqueue that failed after its
        commit stores a job nobody acknowledged, which would make a count come true early."""
        if not self.quiescent(len(self.acked)):
            return False
        jobs = self.jobs()
        return all(job_id in jobs and jobs[job_id].state in TERMINAL for job_id in self.acked)

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
        self.app.close()


def check(run: FaultRun) -> Figures:
    """Compute lost / duplicate / overlap / recovery figures from the ledger and the rows."""
    f, jobs, ledger = run.figures, run.jobs(), run.ledger()
    f.acked = len(run.acked)
    states = Counter(job.state for job in jobs.values())
    f.completed, f.failed = states[JobState.COMPLETED], states[JobState.FAILED]
    f.cancelled, f.skipped = states[JobState.CANCELLED], states[JobState.SKIPPED]
    ends: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in ledger:
        if record["ev"] == "end":
            ends[record["job"]].append(record)
    f.lost = sum(1 for i in run.acked if i not in jobs or jobs[i].state not in TERMINAL)
    f.lost += sum(1 for j in jobs.values() if j.state is JobState.COMPLETED and not ends[j.id])
    for job in jobs.values():
        lost_attempts = {e.attempt for e in job.errors if e.type == "WorkerLost"}
        f.fault_reruns += sum(1 for a in lost_attempts if a < job.attempt)
        extra = len(ends[job.id]) - 1 if ends[job.id] else 0
        explained = sum(1 for e in ends[job.id] if e["attempt"] in lost_attempts)
        f.dup_exec += max(0, extra - explained)
        if (
            job.state is JobState.COMPLETED
            and job.result
            and job.result.get("attempt") != job.attempt
        ):
            f.stale_overwrites += 1
    f.max_concurrency_per_fp = peak_per_key(ledger, "probe_serial")
    recoveries = recovery_times(run, ledger)
    if recoveries:
        f.recover_s_p50 = round(sorted(recoveries)[len(recoveries) // 2], 2)
        f.recover_s_max = round(max(recoveries), 2)
    f.duration_s = round(time.monotonic() - run.started, 1)
    return f


def recovery_times(run: FaultRun, ledger: list[dict[str, Any]]) -> list[float]:
    """For each attempt whose process died under it: time from that death to the start of the
    very next attempt. Where the next attempt has no start (its worker died too, after its
    claim and before the job began), two faults lie between the starts: not one recovery."""
    deaths: dict[int, float] = dict(run.faults + run.crashes())
    starts: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for record in ledger:
        if record["ev"] == "start":
            starts[record["job"]].append((record["attempt"], record["t"], record["pid"]))
    times = []
    for attempts in starts.values():
        attempts.sort()
        for (attempt, started, pid), (following, restarted, _) in itertools.pairwise(attempts):
            died = deaths.get(pid)
            if following == attempt + 1 and died is not None and started <= died <= restarted:
                times.append(restarted - died)
    return times


def report(figures: Figures, violations: list[str]) -> None:
    """Print the scenario's row and append it to the results file that `make faults` shows."""
    figures.verdict = "FAIL: " + "; ".join(violations) if violations else "pass"
    row = asdict(figures)
    print("\nFAULT-ROW " + json.dumps(row))
    results = Path(os.environ.get("FAULT_RESULTS", ROOT / ".faults-results.jsonl"))
    with results.open("a") as out:
        out.write(json.dumps(row) + "\n")


def violations_of(f: Figures, *, recovery: bool = True) -> list[str]:
    """The bar of the reliability contract (docs/reliability.md), applied to one row."""
    found = []
    for name in ("lost", "dup_exec", "stale_overwrites"):
        if getattr(f, name):
            found.append(f"{name}={getattr(f, name)}")
    if f.max_concurrency_per_fp > 1:
        found.append(f"max_concurrency_per_fp={f.max_concurrency_per_fp}")
    if recovery and f.recover_s_max > RECOVERY_BOUND_S:
        found.append(f"recover_s_max={f.recover_s_max} > {RECOVERY_BOUND_S}")
    return found


def terminate_connections(run: FaultRun) -> int:
    """pg_terminate_backend on every connection of this run's worker processes."""
    pids = "|".join(str(p.pid) for p in run.workers)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name ~ %s",
            (f"^underway:[a-z]+:({pids})$",),
        ).fetchall()
    return len(rows)
