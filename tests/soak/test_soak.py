"""23. Soak with retention: a steady load for 30 minutes with periodic faults, on both backends.

Jobs are kept for two minutes, so tables must stay bounded (rows about rate x retention) while
workers are killed and PostgreSQL connections are cut now and then. A worker that is never
killed is sampled throughout: its memory, open files and connections must stay flat, and
claims must not get slower as the hours of pruned history pile up.
`UNDERWAY_SOAK_SECONDS` sets the length (the reliability contract: 1800 in CI, 14400 nightly).
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.faults.harness import FaultRun, report, terminate_connections
from tests.waiting import wait_until

SOAK_S = float(os.environ.get("UNDERWAY_SOAK_SECONDS", "1800"))
RATE_PER_S = 20  # jobs enqueued per second on each backend
RETENTION_S = 120  # probe_soak's retention
PRUNE_INTERVAL_S = 10.0
KILL_EVERY_S = 60.0  # alternating between the backends: each loses a worker every 2 minutes
CUT_CONNECTIONS_EVERY_S = 90.0
SAMPLE_EVERY_S = 10.0
#: A worker's PostgreSQL connections: its pool (at most 5), the listener and the heartbeat.
MAX_CONNECTIONS = 7
PRUNE_LINE = re.compile(r"pruned \d+ jobs past their retention in (\d+) ms")


@dataclass
class Samples:
    """What is read every SAMPLE_EVERY_S from one backend and its steady worker."""

    at: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    dead_tuples: list[int] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def slope_per_hour(times: list[float], values: list[float]) -> float:
    """Least-squares slope of values over time, per hour."""
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return 0.0
    return (
        sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread * 3600
    )


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Soak:
    """One backend under the soak: a steady worker, a victim worker, and the samples."""

    def __init__(self, run: FaultRun, schema: str | None) -> None:
        self.run = run
        self.schema = schema
        self.extra = (f"--prune-interval={PRUNE_INTERVAL_S}",)
        self.steady = run.start_worker(extra=self.extra)
        self.victim = run.start_worker(extra=self.extra)
        self.samples = Samples()
        self.sent = 0

    def enqueue(self, count: int) -> None:
        for _ in range(count):
            self.run.enqueue("probe_soak", key=f"s{self.sent}", enqueued=time.monotonic())
            self.sent += 1

    def kill_victim(self) -> None:
        self.run.kill(self.victim)
        self.run.workers.remove(self.victim)
        self.victim = self.run.start_worker(extra=self.extra)

    def sample(self, now: float) -> None:
        s, pid = self.samples, self.steady.pid
        assert self.steady.poll() is None, "the steady worker died"
        s.at.append(now)
        s.rss_mb.append(rss_mb(pid))
        s.fds.append(len(os.listdir(f"/proc/{pid}/fd")))
        s.rows.append(sum(self.run.app.stats().counts.values()))
        if self.schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                (connections,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name ~ %s",
                    (f"^underway:[a-z]+:{pid}$",),
                ).fetchone() or (0,)
                (dead,) = conn.execute(
                    "SELECT coalesce(max(n_dead_tup), 0) FROM pg_stat_user_tables "
                    "WHERE schemaname = %s AND relname = 'jobs'",
                    (self.schema,),
                ).fetchone() or (0,)
            s.connections.append(int(connections))
            s.dead_tuples.append(int(dead))

    def all_ended(self) -> bool:
        ended = {r["job"] for r in self.run.ledger() if r["ev"] == "end"}
        return all(job in ended for job in self.run.acked)

    def prune_ms_max(self) -> int:
        found = [
            int(m[1])
            for path in self.run.directory.glob("worker-*.log")
            for m in PRUNE_LINE.finditer(path.read_text(errors="replace"))
        ]
        return max(found, default=0)

    def figures(self, began: float) -> dict[str, Any]:
        """The soak's row: the usual counts from the ledger, plus the resource trends."""
        run, s = self.run, self.samples
        f = run.figures
        starts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        ends: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in run.ledger():
            (starts if record["ev"] == "start" else ends)[record["job"]].append(record)
        kills = {pid: at for pid, at in run.faults}
        f.acked = len(run.acked)
        f.completed = sum(1 for job in run.acked if ends[job])
        f.lost = f.acked - f.completed
        f.fault_reruns = sum(len(records) - 1 for records in starts.values())
        # A second end is the at-least-once window only if the worker of the first one was
        # killed (a dead process writes no ledger, so the kill came after that end, before
        # the finish commit).
        f.dup_exec = sum(
            1
            for records in ends.values()
            if len(records) > 1
            and not any(r["pid"] in kills for r in sorted(records, key=lambda r: r["t"])[:-1])
        )
        first, last = began + (SOAK_S / 3), began + (2 * SOAK_S / 3)
        latency = {"first": [], "last": []}  # type: dict[str, list[float]]
        for records in starts.values():
            record = min(records, key=lambda r: r["t"])
            if record["attempt"] == 1:
                window = "first" if record["t"] < first else "last" if record["t"] > last else ""
                if window:
                    latency[window].append(record["t"] - record["enqueued"])
        warm = [i for i, at in enumerate(s.at) if at - began > SOAK_S / 5]
        trend_at = [s.at[i] for i in warm]
        f.duration_s = round(time.monotonic() - began, 1)
        f.notes.update(
            rate_per_s=RATE_PER_S,
            retention_s=RETENTION_S,
            kills=len(run.faults),
            rss_mb_start=round(s.rss_mb[warm[0]], 1),
            rss_mb_end=round(s.rss_mb[-1], 1),
            rss_slope_mb_h=round(slope_per_hour(trend_at, [s.rss_mb[i] for i in warm]), 1),
            fds_start=s.fds[warm[0]],
            fds_max=max(s.fds[i] for i in warm),
            max_rows=max(s.rows),
            claim_p99_ms_first=round(p99(latency["first"]) * 1000, 1),
            claim_p99_ms_last=round(p99(latency["last"]) * 1000, 1),
            prune_ms_max=self.prune_ms_max(),
        )
        if s.connections:
            f.notes.update(
                pg_connections_start=s.connections[warm[0]],
                pg_connections_max=max(s.connections[i] for i in warm),
                dead_tuples_max=max(s.dead_tuples),
            )
        return f.notes


@pytest.mark.timeout(SOAK_S + 600)
def test_soak_with_retention_and_periodic_faults(
    tmp_path: Path, pg_url: str, pg_schema: str
) -> None:
    """23. Steady load, kills and connection cuts: bounded tables, flat resources, no loss."""
    runs = {
        "sqlite": FaultRun(tmp_path / "sqlite", "soak_with_retention"),
        "postgres": FaultRun(tmp_path / "postgres", "soak_with_retention", pg_url),
    }
    soaks: dict[str, Soak] = {}
    try:
        for name, run in runs.items():
            run.directory.mkdir()
            run.app.stats()  # the schema exists before the workers race to create it
            soaks[name] = Soak(run, pg_schema if name == "postgres" else None)
        began = time.monotonic()
        next_kill, next_cut, next_sample = (
            began + KILL_EVERY_S,
            began + CUT_CONNECTIONS_EVERY_S,
            began,
        )
        victim_turn = 0
        tick = 0.1
        while (now := time.monotonic()) - began < SOAK_S:
            for soak in soaks.values():
                soak.enqueue(round(RATE_PER_S * tick))
            if now >= next_kill:
                list(soaks.values())[victim_turn % 2].kill_victim()
                victim_turn += 1
                next_kill += KILL_EVERY_S
            if now >= next_cut:
                terminate_connections(runs["postgres"])
                next_cut += CUT_CONNECTIONS_EVERY_S
            if now >= next_sample:
                for soak in soaks.values():
                    soak.sample(now)
                next_sample += SAMPLE_EVERY_S
            time.sleep(max(0.0, tick - (time.monotonic() - now)))  # the load's steady rhythm
        for soak in soaks.values():
            wait_until(soak.all_ended, timeout=60)
        for name, soak in soaks.items():
            notes = soak.figures(began)
            f = soak.run.figures
            problems = [k for k in ("lost", "dup_exec") if getattr(f, k)]
            bound = RATE_PER_S * (RETENTION_S + PRUNE_INTERVAL_S + 30)
            if notes["max_rows"] > bound:
                problems.append(f"max_rows={notes['max_rows']} > {bound}")
            if notes["claim_p99_ms_last"] > 2 * notes["claim_p99_ms_first"] + 100:
                problems.append("claim p99 grew")
            if notes["rss_mb_end"] > notes["rss_mb_start"] + 15:
                problems.append("worker RSS grew")
            if notes["fds_max"] > notes["fds_start"] + 5:
                problems.append("open files grew")
            if name == "postgres" and notes["pg_connections_max"] > MAX_CONNECTIONS:
                problems.append("connections beyond the pool's limit")
            report(f, problems)
            assert not problems, (name, problems, notes)
    finally:
        for run in runs.values():
            run.stop()
