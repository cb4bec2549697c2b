"""underway's flow-control scenarios (issue "Flow control"), on SQLite and PostgreSQL.

- accuracy: 4 workers, `rate_limit="50/second"` on 10 keys, each key with 6 s of work; from
  the jobs' own start times, the most starts of one key in any second (sliding window) or in
  each second of the clock (fixed window), and the rate each key got while it had work;
- cost: one worker drains no-op jobs spread over 1,000 keys whose rate limits or concurrency
  lanes are never reached, then with half the keys at their limit (their jobs wait, ahead
  of the others in claim order), then beside a paused queue holding a backlog; each against
  a plain drain of the same size run just before or after it;
- saturation: 2,000 keys, every one at its rate limit while it has work, their slots opening
  one at a time; the pace they get after their first window, against what their limits allow;
- pause: 3 busy workers; from `app.pause_queue` to the last start in that queue.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from underway import App

from . import flow_app
from .flow_counts import (
    clock_second_rate,
    most_in_window,
    most_per_clock_second,
    steady_rate,
)
from .measure import Workers, medians, of_plain, percentile, say, workers
from .underway_cases import Underway

#: Also counted: the most starts in windows this much shorter than a second. A start the
#: limit counts is timed at the claim, the ground truth here at the job's code.
DISPATCH_S = 0.05
#: Jobs per enqueue_many call.
CHUNK = 10_000

Attempt = Callable[[str, Callable[[], Any]], Any]


#: Rounds of the drains at least, in a full run: a drain lasts about a second, over which
#: this machine's speed can change by a tenth, so ratios of single drains spread widely.
DRAIN_ROUNDS = 7
#: The drains compared with a plain one: each is paired with a plain drain run just before
#: it in odd rounds and just after it in even ones, and its ratio is to that one.
COMPARED = ("rate_keys", "lane_keys", "paused_backlog", "half_at_limit")


@dataclass(frozen=True)
class FlowPlan:
    """Sizes: the full run's, or the quick run's."""

    runs: int
    keys: int = 10
    jobs_per_key: int = 300
    accuracy_workers: int = 4
    drain_jobs: int = 20_000
    drain_keys: int = 1_000
    pause_workers: int = 3
    pauses: int = 3
    pause_jobs: int = 15_000
    backlog: int = 100_000
    saturated_keys: int = 2_000
    saturated_per_key: int = 16

    @classmethod
    def of(cls, quick: bool, runs: int) -> FlowPlan:
        if quick:
            return cls(
                1,
                jobs_per_key=150,
                drain_jobs=5_000,
                pauses=2,
                backlog=20_000,
                saturated_keys=500,
            )
        return cls(max(runs, DRAIN_ROUNDS))


class FlowBench:
    """The scenarios on one underway system (its database and its worker command)."""

    def __init__(self, system: Underway, plan: FlowPlan) -> None:
        self.system = system
        self.plan = plan
        self.probe = system.ctx.probe
        self.starts = Path(system.ctx.workdir) / "starts"
        self.app: App | None = None
        self.command = [
            "bench.flow_app:app" if part == "bench.underway_app:app" else part
            for part in system.worker_command()
        ]

    # -- set-up ------------------------------------------------------------------------------

    def fresh(self) -> App:
        """An empty database, and an app with the flow jobs to enqueue them."""
        self.close()
        self.system.reset()
        app = App(self.system.url)
        app.registry.update(flow_app.app.registry)
        self.app = app
        self.probe.reset()
        self.starts.write_bytes(b"")
        return app

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None

    def enqueue(self, name: str, rows: list[dict[str, Any]]) -> None:
        assert self.app is not None
        for start in range(0, len(rows), CHUNK):
            self.app.enqueue_many(name, rows[start : start + CHUNK])

    def env(self) -> dict[str, str]:
        return {
            **self.probe.env(),
            **self.system.worker_env(),
            flow_app.STARTS_ENV: str(self.starts),
        }

    def read_starts(self) -> list[tuple[str, int, float, str]]:
        """(key, pid, wall time, job id) of every start noted so far."""
        found = []
        for line in self.starts.read_text().splitlines():
            key, pid, at, job = line.split()
            found.append((key, int(pid), float(at), job))
        return found

    def completed(self, name: str) -> int:
        return self.system._count(
            f"SELECT count(*) FROM {{jobs}} WHERE state = 'completed' AND name = '{name}'"
        )

    def claimed_at(self, name: str) -> dict[str, float]:
        """Each job's claim time as its row holds it (epoch seconds)."""
        s = self.system
        if s.backend == "sqlite":
            with sqlite3.connect(s.db_path, timeout=30) as conn:
                sql = "SELECT id, started_at FROM underway_jobs WHERE name = ?"
                return {i: float(at) for i, at in conn.execute(sql, (name,)) if at is not None}
        import psycopg

        with psycopg.connect(s.ctx.pg_dsn) as conn:
            rows = conn.execute(
                f"SELECT id::text, extract(epoch FROM started_at)::float8 FROM {s.schema}.jobs "
                "WHERE name = %s AND started_at IS NOT NULL",
                (name,),
            ).fetchall()
        return {i: at for i, at in rows}

    # -- drains ------------------------------------------------------------------------------

    def drain(self, name: str, n: int) -> dict[str, float]:
        """One worker drains jobs of `name`: jobs/s from the first completion to the n-th,
        the clock stopping only once the database also records n of them completed."""
        self.probe.reset()
        with workers(self.command, self.env(), 1) as running:
            try:
                first, last = self.probe.wait_count(n, max(120.0, n / 50), running)
            except TimeoutError:
                running.check()
                raise
            deadline = time.monotonic() + 60
            while self.completed(name) < n:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: jobs ran but were not recorded completed")
                time.sleep(0.01)
            last = time.perf_counter()
        return {"rate": n / (last - first), "n": n}

    def keyed_rows(self, keys: int, per_key: int, prefix: str = "k") -> list[dict[str, Any]]:
        """per_key jobs for each of `keys` keys, the keys taking turns in enqueue order."""
        return [{"key": f"{prefix}{i}"} for _ in range(per_key) for i in range(keys)]

    def drain_of(self, name: str) -> dict[str, float]:
        """The plan's drain of jobs of `name` over its keys, none of them held back; and
        how fast `enqueue_many` stored them (jobs/s)."""
        stored = self.store_of(name)
        return {**self.drain(name, self.plan.drain_jobs), **stored}

    def store_of(self, name: str) -> dict[str, float]:
        """How fast `enqueue_many` stores the plan's jobs of `name` over its keys (not run)."""
        p = self.plan
        self.fresh()
        rows = self.keyed_rows(p.drain_keys, p.drain_jobs // p.drain_keys)
        began = time.perf_counter()
        self.enqueue(name, rows)
        return {"store_rate": len(rows) / (time.perf_counter() - began)}

    def half_at_limit(self) -> dict[str, float]:
        """Half the keys are at their limit: 500 keys of `hourly` (one start per hour) made
        their start and hold 20 jobs each back, ahead in claim order, parked; the other 500 keys'
        jobs (`keyed_rate`, whose limit they never reach) are queued, and timed until all of
        them are done: as many as the plain drain it is compared with, so that the fixed cost
        at each end of a drain weighs on both alike."""
        p = self.plan
        held, free = p.drain_keys // 2, p.drain_keys - p.drain_keys // 2
        self.fresh()
        self.enqueue("hourly", self.keyed_rows(held, 21, prefix="held"))
        with workers(self.command, self.env(), 1) as running:
            self.probe.wait_count(held, 120, running)
            self._wait_parked(held * 20, running)
        self.enqueue("keyed_rate", self.keyed_rows(free, p.drain_jobs // free, prefix="free"))
        figures = self.drain("keyed_rate", p.drain_jobs)
        return {**figures, "queued": p.drain_jobs, "held_keys": held, "held_jobs": held * 20}

    def saturated(self) -> dict[str, float]:
        """Every key at its limit (`saturated`: 4 starts per 2 s) with a backlog of 16 jobs; the
        keys take turns in enqueue order, so a key's starts fall in different claims and its
        slots open one at a time, each found full and held or parked until the next. `pace`:
        the starts after each key's first window (which the limit lets start at once) per
        second of the drain, as a share of what the limits allow (ideal: a little under 1,
        as each start counts a few ms longer than its window)."""
        p = self.plan
        keys, per_key = p.saturated_keys, p.saturated_per_key
        self.fresh()
        self.enqueue("saturated", self.keyed_rows(keys, per_key, prefix="busy"))
        n = keys * per_key
        figures = self.drain("saturated", n)
        span = n / figures["rate"]
        allowed = keys * flow_app.SATURATED_LIMIT / flow_app.SATURATED_WINDOW_S
        after_first = n - keys * flow_app.SATURATED_LIMIT
        return {**figures, "allowed": allowed, "pace": after_first / span / allowed}

    def _wait_parked(self, n: int, running: Workers) -> None:
        """Until `n` jobs are parked: the claims that met their full keys park them, and
        the timed drain starts once they are (whether the parking fell into it depended on
        when the worker was stopped)."""
        deadline = time.monotonic() + 60
        while self.system._count("SELECT count(*) FROM {jobs} WHERE held_until IS NOT NULL") < n:
            running.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the held keys' {n} waiting jobs were not parked")
            time.sleep(0.01)

    def beside_paused_backlog(self) -> dict[str, float]:
        """Plain jobs drained by a worker that also serves a paused queue holding the
        backlog (older than the plain jobs)."""
        p = self.plan
        app = self.fresh()
        app.pause_queue(flow_app.PAUSED_QUEUE)
        self.enqueue("mail", [{"n": i} for i in range(p.backlog)])
        self.enqueue("plain", self.keyed_rows(p.drain_keys, p.drain_jobs // p.drain_keys))
        return {**self.drain("plain", p.drain_jobs), "backlog": p.backlog}

    # -- accuracy ----------------------------------------------------------------------------

    def accuracy(self, name: str) -> dict[str, float]:
        """4 workers run `name` (50/second per key) for 10 keys with 6 s of work each."""
        p = self.plan
        self.fresh()
        total = p.keys * p.jobs_per_key
        self.enqueue(name, self.keyed_rows(p.keys, p.jobs_per_key))
        with workers(self.command, self.env(), p.accuracy_workers) as running:
            self.probe.wait_count(total, 120, running)
        starts = self.read_starts()
        by_key: dict[str, list[float]] = defaultdict(list)
        for key, _, at, _ in starts:
            by_key[key].append(at)
        claimed = self.claimed_at(name)
        delays = sorted(at - claimed[job] for _, _, at, job in starts if job in claimed)
        rate_of = clock_second_rate if name == "paced_fixed" else steady_rate
        rates = [rate_of(times) for times in by_key.values()]
        return {
            "max_per_second": max(most_in_window(t, 1.0) for t in by_key.values()),
            "max_per_second_less_dispatch": max(
                most_in_window(t, 1.0 - DISPATCH_S) for t in by_key.values()
            ),
            "max_per_clock_second": max(most_per_clock_second(t) for t in by_key.values()),
            "min_key_rate": min(rates),
            "mean_key_rate": statistics.fmean(rates),
            "claim_to_start_ms_p50": percentile(delays, 50) * 1000,
            "claim_to_start_ms_max": delays[-1] * 1000,
            "keys": p.keys,
            "jobs": total,
        }

    # -- pause -------------------------------------------------------------------------------

    def pause(self) -> dict[str, float]:
        """3 busy workers (jobs of 0.1 to 1 s, so their claims keep coming); each pause, from
        the call to the last start in the paused queue; then resume and wait until every
        worker starts jobs again."""
        p = self.plan
        app = self.fresh()
        self.enqueue(
            "mail", [{"n": i, "seconds": 0.1 + (i % 10) / 10} for i in range(p.pause_jobs)]
        )
        lags, late, busy = [], [], []
        with workers(self.command, self.env(), p.pause_workers) as running:
            pids = set(running.pids)
            self._wait_for_starts(pids, 0.0, 60)
            for _ in range(p.pauses):
                time.sleep(1.0)
                busy.append(
                    pids <= {pid for _, pid, at, _ in self.read_starts() if at > time.time() - 0.3}
                )
                asked = time.time()
                app.pause_queue(flow_app.PAUSED_QUEUE)
                paused = time.time()
                time.sleep(1.5)
                times = [at for _, _, at, _ in self.read_starts()]
                lags.append(max(0.0, max(times) - asked))
                late.append(sum(1 for at in times if at > paused))
                app.resume_queue(flow_app.PAUSED_QUEUE)
                self._wait_for_starts(pids, time.time(), 10)
        return {
            "max_ms": max(lags) * 1000,
            "mean_ms": statistics.fmean(lags) * 1000,
            "starts_after_pause_returned": max(late),
            "pauses": p.pauses,
            "workers": p.pause_workers,
            "all_busy": float(all(busy)),
        }

    def _wait_for_starts(self, pids: set[int], after: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not pids <= {pid for _, pid, at, _ in self.read_starts() if at > after}:
            if time.monotonic() > deadline:
                raise TimeoutError("not every worker started a job")
            time.sleep(0.05)


def measure(system: Underway, quick: bool, runs: int, attempt: Attempt) -> dict[str, Any]:
    """Every flow scenario on one system; drains in rounds, each compared one beside a plain."""
    plan = FlowPlan.of(quick, runs)
    bench = FlowBench(system, plan)
    name = f"underway-{system.backend} flow"
    out: dict[str, Any] = {}
    try:
        out["accuracy"] = {
            "sliding": attempt(f"{name} accuracy sliding", lambda: bench.accuracy("paced")) or {},
            "fixed": attempt(f"{name} accuracy fixed", lambda: bench.accuracy("paced_fixed")) or {},
        }
        out["pause"] = attempt(f"{name} pause", bench.pause) or {}
        cases = {
            "plain": lambda: bench.drain_of("plain"),
            "rate_keys": lambda: bench.drain_of("keyed_rate"),
            "lane_keys": lambda: bench.drain_of("keyed_lane"),
            "paused_backlog": bench.beside_paused_backlog,
            "half_at_limit": bench.half_at_limit,
            "saturated": bench.saturated,
            "bounded_queue": lambda: bench.store_of("bounded"),
            "joined": lambda: bench.store_of("joined"),
        }
        rounds: dict[str, list[dict[str, float]]] = defaultdict(list)
        pairs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = defaultdict(list)
        for number in range(plan.runs):
            for case, fn in cases.items():
                if case == "plain":
                    continue
                if case not in COMPARED:
                    rounds[case].append(attempt(f"{name} {case}", fn) or {})
                    continue
                order = [case, "plain"] if number % 2 else ["plain", case]
                got = {each: attempt(f"{name} {each}", cases[each]) or {} for each in order}
                rounds[case].append(got[case])
                rounds["plain"].append(got["plain"])
                pairs[case].append((got["plain"], got[case]))
        out["drain"] = {case: medians(found) for case, found in rounds.items()}
        out["drain_rounds"] = plan.runs
        for case, found in pairs.items():
            if "rate" in out["drain"][case]:
                out["drain"][case]["of_plain"] = of_plain(found)
    finally:
        bench.close()
    say(f"  {name}: done")
    return out
