"""underway as a measured system on SQLite and PostgreSQL, plus its own scenarios: depth,
memory and in-process latency."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from underway import JobState

from .measure import Probe, rss_mb, say, workers
from .system import Context, System

#: Claims of 100 jobs (half the slots), as pgqueuer's batch_size=100 dequeues 100 (see the
#: fairness table in README.md).
CONCURRENCY = 200
FILLER_CHUNK = 100_000


class Underway(System):
    """underway through its public API; workers are `underway worker` processes."""

    name = "underway"
    package = "underway"
    settings = f"`underway worker --concurrency {CONCURRENCY}` (async job)"
    drain_n = 20_000

    def __init__(self, ctx: Context, backend: str) -> None:
        super().__init__(ctx)
        self.backend = backend
        self.schema = f"bench_uw_{ctx.run_id}"
        self.db_path = Path(ctx.workdir) / "underway.db"
        self.app: Any = None
        self._fresh_after = 0

    @property
    def url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.db_path}"
        sep = "&" if "?" in self.ctx.pg_dsn else "?"
        return f"{self.ctx.pg_dsn}{sep}schema={self.schema}"

    def _open(self) -> None:
        from . import underway_app

        self.app = underway_app.App(self.url)
        self.noop = self.app.job(underway_app.noop)
        self.app.migrate()

    def _close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None

    def setup(self) -> None:
        self._open()

    def teardown(self) -> None:
        self._close()
        self._drop()

    def _drop(self) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        else:
            import psycopg

            with psycopg.connect(self.ctx.pg_dsn, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def reset(self) -> None:
        self._close()
        self._drop()
        self._open()
        self._fresh_after = 0

    def enqueue_call(self, sent: float = 0.0) -> None:
        if sent:
            self.noop.enqueue(sent=sent)
        else:
            self.noop.enqueue()

    def enqueue_bulk_call(self, count: int) -> None:
        self.noop.enqueue_many([{} for _ in range(count)])

    def worker_command(self) -> list[str]:
        return [
            "underway",
            "worker",
            "--app",
            "bench.underway_app:app",
            "--concurrency",
            str(CONCURRENCY),
            "--log-level",
            "warning",
        ]

    def worker_env(self) -> dict[str, str]:
        return {"UNDERWAY_DATABASE_URL": self.url}

    # -- the system's own completion state -----------------------------------------------------

    def _count(self, sql: str) -> int:
        """One integer from the system's database (`{jobs}` names its jobs table)."""
        if self.backend == "sqlite":
            with sqlite3.connect(self.db_path, timeout=30) as conn:
                row = conn.execute(sql.format(jobs="underway_jobs")).fetchone()
        else:
            import psycopg

            with psycopg.connect(self.ctx.pg_dsn) as conn:
                row = conn.execute(sql.format(jobs=f"{self.schema}.jobs")).fetchone()
        assert row is not None
        return int(row[0] or 0)

    def completed(self) -> int:
        """Jobs enqueued since the last `_mark_fresh` and recorded completed. Filler rows
        (depth) come before the mark. On SQLite seq is the rowid, so this reads only the fresh
        jobs' part of the table; on PostgreSQL seq has no index and this reads the table."""
        return self._count(
            f"SELECT count(*) FROM {{jobs}} WHERE seq > {self._fresh_after} AND state = 'completed'"
        )

    def _fresh_jobs_done(self, n: int) -> bool:
        """Whether the n fresh jobs are done, by a count whose cost does not grow with the
        filler. SQLite: all n recorded completed (seq is the rowid). PostgreSQL: none left
        waiting or running, counted through the claim and running indexes (the filler's
        waiting jobs are in another queue or a year ahead)."""
        if self.backend == "sqlite":
            return self.completed() >= n
        return not self._count(
            "SELECT (SELECT count(*) FROM {jobs} WHERE state = 'running') + (SELECT count(*) "
            "FROM {jobs} WHERE state = 'pending' AND queue = 'default' AND lane IS NULL "
            "AND run_at <= now())"
        )

    def _mark_fresh(self) -> None:
        """Jobs enqueued from now on are the ones `completed` counts."""
        self._fresh_after = self._count("SELECT max(seq) FROM {jobs}")

    def confirm_done(self, n: int, counted_at: float) -> float:
        """underway's drain stops when the database says completed (outcomes are group-committed
        after the job returns), which is stricter than the job counter used for peers.

        The clock stops on `_fresh_jobs_done`; every job must then be recorded completed,
        counted after the clock stopped (on PostgreSQL that count reads the table).
        """
        deadline = time.monotonic() + 60
        while not self._fresh_jobs_done(n):
            if time.monotonic() > deadline:
                raise TimeoutError("jobs ran but were not recorded completed")
            time.sleep(0.01)
        done_at = time.perf_counter()
        completed = self.completed()
        if completed < n:
            raise RuntimeError(f"only {completed} of {n} jobs were recorded completed")
        return done_at

    # -- underway-only scenarios ---------------------------------------------------------------

    def latency_in_process(self, count: int = 200, gap: float = 0.02) -> dict[str, float]:
        """Enqueue→start with the worker in the producer's own process (`app.start_worker`)."""
        self.reset()
        probe = self.ctx.probe
        probe.reset()
        os.environ.update(probe.env())
        running = self.app.start_worker(concurrency=CONCURRENCY)
        try:
            for _ in range(20):
                self.enqueue_call()
                time.sleep(0.02)
            return self.sample_latency(count, gap)
        finally:
            running.stop()

    def in_process_databases(self) -> list[str]:
        """Where `drain_in_process` runs: this system's database, and on SQLite also memory."""
        return [self.backend, "memory"] if self.backend == "sqlite" else [self.backend]

    def drain_in_process(self, where: str, n: int) -> dict[str, float]:
        """`underway.testing.drain` of `n` no-op jobs in this process (concurrency 200), the
        way a test runs jobs: enqueued in bulk first, then drained until none is left."""
        from underway.testing import drain

        from . import underway_app

        if where != "memory":
            self.reset()
        app = underway_app.App("memory://" if where == "memory" else self.url)
        nothing = app.job(underway_app.nothing)
        try:
            app.migrate()
            for start in range(0, n, 10_000):
                nothing.enqueue_many([{}] * min(10_000, n - start))
            began = time.perf_counter()
            ran = drain(app, concurrency=CONCURRENCY)
            seconds = time.perf_counter() - began
        finally:
            app.close()
        if len(ran) != n or any(job.state is not JobState.COMPLETED for job in ran):
            raise RuntimeError(f"drained {len(ran)} of {n} jobs, not all completed")
        return {"rate": n / seconds, "n": n, "seconds": seconds}

    def fill_depth(self, rows: int) -> None:
        """Insert `rows` filler rows directly with SQL (setup only): 90% completed, 5% pending
        in another queue (older than the fresh jobs), 5% scheduled a year ahead; then
        checkpoint, so that writing the filler out does not overlap the measurement."""
        self.reset()
        now = time.time()
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.db_path, timeout=60)
            for start in range(0, rows, FILLER_CHUNK):
                stop = min(rows, start + FILLER_CHUNK)
                conn.execute(SQLITE_FILLER, {"lo": start, "hi": stop - 1, "now": now})
                conn.commit()
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
        else:
            import psycopg

            sql = PG_FILLER.format(schema=self.schema)
            with psycopg.connect(self.ctx.pg_dsn, autocommit=True) as conn:
                for start in range(0, rows, FILLER_CHUNK):
                    stop = min(rows, start + FILLER_CHUNK)
                    conn.execute(sql, {"lo": start, "hi": stop - 1})
                conn.execute(f"VACUUM ANALYZE {self.schema}.jobs")
                # The filler's own WAL (over 1 GB for 1M rows) would otherwise start a
                # checkpoint that runs, spread over minutes, through the measured drain.
                conn.execute("CHECKPOINT")
        self._fresh_after = 0

    def depth_drain(self, n: int) -> dict[str, float]:
        """Drain n fresh jobs with one worker over the filler rows already in place."""
        self._mark_fresh()
        self.fill(n)
        probe = self.ctx.probe
        probe.reset()
        env = {**probe.env(), **self.worker_env()}
        with workers(self.worker_command(), env, 1) as running:
            try:
                first, last = probe.wait_count(n, max(120.0, n / 50), running)
            except TimeoutError:
                running.check()
                raise
            last = self.confirm_done(n, last)
        seconds = last - first
        return {"rate": n / seconds, "n": n, "us_per_job": seconds / n * 1e6}

    def memory(self, n: int) -> dict[str, float]:
        """Worker RSS (MiB) idle after start-up, and after draining n jobs."""
        self.reset()
        probe = self.ctx.probe
        probe.reset()
        env = {**probe.env(), **self.worker_env()}
        with workers(self.worker_command(), env, 1) as running:
            self.enqueue_call()
            probe.wait_count(1, 60, running)
            time.sleep(2.0)
            idle = rss_mb(running.pids[0])
            self.fill(n)
            probe.wait_count(n + 1, max(120.0, n / 50), running)
            time.sleep(2.0)
            after = rss_mb(running.pids[0])
        say(f"  memory: idle {idle:.1f} MiB, after {n} jobs {after:.1f} MiB")
        return {"idle_mb": idle, "after_mb": after, "n": n}


SQLITE_FILLER = """
WITH RECURSIVE c(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM c WHERE i < :hi)
INSERT INTO underway_jobs (id, name, queue, priority, state, args, attempt, max_attempts,
    created_at, run_at, started_at, finished_at, result, retention_s, expires_at)
SELECT 'filler-' || i, 'noop',
    CASE WHEN i % 20 = 0 THEN 'other' ELSE 'default' END, 0,
    CASE i % 20 WHEN 0 THEN 'pending' WHEN 1 THEN 'scheduled' ELSE 'completed' END,
    '{}', CASE WHEN i % 20 > 1 THEN 1 ELSE 0 END, 1, :now - 60,
    CASE i % 20 WHEN 1 THEN :now + 31536000 ELSE :now - 60 END,
    CASE WHEN i % 20 > 1 THEN :now - 59 END, CASE WHEN i % 20 > 1 THEN :now - 59 END,
    CASE WHEN i % 20 > 1 THEN 'null' END, 31536000,
    CASE WHEN i % 20 > 1 THEN :now + 31536000 END
FROM c
"""

PG_FILLER = """
INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, attempt, max_attempts,
    created_at, run_at, started_at, finished_at, result, retention_s, expires_at)
SELECT 'filler-' || i, 'noop',
    CASE WHEN i %% 20 = 0 THEN 'other' ELSE 'default' END, 0,
    CASE i %% 20 WHEN 0 THEN 'pending' WHEN 1 THEN 'scheduled' ELSE 'completed' END,
    '{{}}'::jsonb, CASE WHEN i %% 20 > 1 THEN 1 ELSE 0 END, 1, now() - interval '60 s',
    CASE i %% 20 WHEN 1 THEN now() + interval '365 days' ELSE now() - interval '60 s' END,
    CASE WHEN i %% 20 > 1 THEN now() - interval '59 s' END,
    CASE WHEN i %% 20 > 1 THEN now() - interval '59 s' END,
    CASE WHEN i %% 20 > 1 THEN 'null'::jsonb END, 31536000,
    CASE WHEN i %% 20 > 1 THEN now() + interval '365 days' END
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
"""


def make(ctx: Context) -> list[Underway]:
    return [Underway(ctx, "sqlite"), Underway(ctx, "postgresql")]


__all__ = ["Probe", "Underway", "make"]
