"""PostgreSQL with real worker processes: 3 workers drain jobs exactly once, even when their
connections are terminated or PostgreSQL restarts mid-drain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.postgres.private_postgres import private_postgres
from tests.waiting import wait_until
from underway import App

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]
WORKER_SCRIPT = Path(__file__).with_name("drain_worker.py")
SRC = Path(__file__).resolve().parents[2] / "src"
WORKERS = 3


class Database:
    """SQL against one server, in the schema the test's jobs live in."""

    def __init__(self, server_url: str, schema: str) -> None:
        self.server_url = server_url
        self.schema = schema
        self.url = f"{server_url}?schema={schema}"

    def sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            cur = conn.execute(query.replace("{schema}", f'"{self.schema}"'), params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def counts(self) -> dict[str, int]:
        rows = self.sql("SELECT state, count(*) FROM {schema}.jobs GROUP BY state")
        return {str(state): int(n) for state, n in rows}  # type: ignore[call-overload]

    def completed(self) -> int:
        return self.counts().get("completed", 0)


def enqueue_probes(db: Database, count: int) -> None:
    """Create the schema, the side table the probe jobs write to, and `count` probe jobs."""
    app = App(db.url)

    @app.job(retries=5)
    def probe(n: int) -> int:
        return n

    try:
        app.migrate()
        # Held until every worker is up (`running_workers`): else the first ones can drain
        # them all before a worker slow to start under load claims any.
        app.pause_queue("default", by="test_drains")
        db.sql(
            "CREATE TABLE {schema}.runs "
            "(job_id text, n int, attempt int, pid int, at timestamptz DEFAULT now())"
        )
        for start in range(0, count, 1000):
            probe.enqueue_many([{"n": n} for n in range(start, min(count, start + 1000))])
    finally:
        app.close()


@contextmanager
def running_workers(db: Database) -> Iterator[list[subprocess.Popen[str]]]:
    env = {**os.environ, "UNDERWAY_DATABASE_URL": db.url, "PYTHONPATH": str(SRC)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    try:
        app = App(db.url)
        try:
            wait_until(lambda: len(app.workers()) == WORKERS, 60, what="every worker registered")
            app.resume_queue("default")
        finally:
            app.close()
        yield procs
    finally:
        stop_workers(procs)


def stop_workers(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            _, errors = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, errors = proc.communicate()
        if errors:
            print(f"--- worker {proc.pid} stderr ---\n{errors}")


def assert_all_completed(db: Database, total: int) -> None:
    assert db.counts() == {"completed": total}
    ran = db.sql("SELECT count(DISTINCT job_id), count(DISTINCT pid) FROM {schema}.runs")
    assert ran[0] == (total, WORKERS), "every job ran, in every worker process"


def runs_per_job_beyond_one(db: Database, finished_before: datetime | None = None) -> int:
    """How many extra runs were recorded (for jobs finished before `finished_before` if given)."""
    rows = db.sql(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT r.job_id, count(*) AS n "
        "FROM {schema}.runs r JOIN {schema}.jobs j ON j.id = r.job_id "
        "WHERE %s::timestamptz IS NULL OR j.finished_at < %s::timestamptz "
        "GROUP BY r.job_id) per_job",
        (finished_before, finished_before),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def underway_connections_of(procs: list[subprocess.Popen[str]]) -> list[str]:
    return [f"underway:{role}:{proc.pid}" for proc in procs for role in ("pool", "listener")]


@pytest.fixture
def shared_db(pg_schema: str) -> Database:
    return Database(POSTGRES_URL, pg_schema)


def test_three_workers_drain_3000_jobs_exactly_once(shared_db: Database) -> None:
    enqueue_probes(shared_db, 3000)
    with running_workers(shared_db) as procs:
        wait_until(lambda: shared_db.completed() == 3000, 180, what="3000 completed jobs")
        assert all(proc.poll() is None for proc in procs)
    assert_all_completed(shared_db, 3000)
    assert runs_per_job_beyond_one(shared_db) == 0


def test_terminating_worker_connections_mid_drain_loses_nothing(shared_db: Database) -> None:
    enqueue_probes(shared_db, 1000)
    with running_workers(shared_db) as procs:
        wait_until(lambda: shared_db.completed() >= 200, 120, what="the drain to start")
        # Only this test's workers: other test runs share this server.
        killed = shared_db.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = ANY(%s)",
            (underway_connections_of(procs),),
        )
        assert len(killed) >= 2 * WORKERS
        wait_until(lambda: shared_db.completed() == 1000, 120, what="1000 completed jobs")
        assert all(proc.poll() is None for proc in procs), "a worker exited"
    assert_all_completed(shared_db, 1000)
    assert runs_per_job_beyond_one(shared_db) == 0


def test_postgres_restart_mid_drain_loses_nothing() -> None:
    with private_postgres() as server:
        db = Database(server.url, "underway")
        enqueue_probes(db, 1000)
        with running_workers(db) as procs:
            wait_until(lambda: db.completed() >= 200, 120, what="the drain to start")
            before = db.sql("SELECT now()")[0][0]
            server.restart("fast")
            wait_until(lambda: db.completed() == 1000, 120, what="1000 completed jobs")
            assert all(proc.poll() is None for proc in procs), "a worker exited"
        assert_all_completed(db, 1000)
        assert runs_per_job_beyond_one(db, finished_before=before) == 0  # type: ignore[arg-type]
        assert db.counts() == {"completed": 1000}
