"""The machine's floors for enqueue→start: no job system, just the raw database calls.

PostgreSQL (`postgres_latency`): a producer inserts a row and NOTIFYs in one autocommitted
statement; a listener in another process wakes on the notification and claims the row with
one `UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING`, also autocommitted.

SQLite in one process (`sqlite_latency`): a producer thread inserts a row and commits
(WAL, `synchronous=FULL`, as underway), then wakes a consumer thread, which claims the row
with one `UPDATE ... RETURNING` and commits, each on its own connection.

Same count and gap as the latency scenario. No job system can start a job sooner than this
on the same machine (it must commit the job before a worker may claim it, and the claim
before it runs), so the latency tables show how far each one is from it.

PostgreSQL enqueue (`postgres_enqueue_rate`): the same producer statement, sent back to back
for as long as the enqueue scenario runs: the commits per second one connection makes when
each stores a row and tells the workers, which bounds enqueueing one job per call.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import psycopg

from .measure import percentile

TABLE = "bench_floor_jobs"
CHANNEL = "bench_floor"
WARMUP = 20
#: The producer's statement: store a row and NOTIFY, one autocommitted statement.
PRODUCE = (
    f"WITH i AS (INSERT INTO {TABLE} (state, sent) VALUES ('pending', %s) "
    f"RETURNING id) SELECT pg_notify('{CHANNEL}', 'job') FROM i"
)


def _listener(dsn: str, ready: Event, delays: Queue[list[float]]) -> None:
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        psycopg.connect(dsn, autocommit=True) as listen,
    ):
        listen.execute(f"LISTEN {CHANNEL}")
        ready.set()
        seen: list[float] = []
        for notify in listen.notifies():
            if notify.payload == "stop":
                break
            row = conn.execute(
                f"UPDATE {TABLE} SET state = 'running' WHERE id = (SELECT id FROM {TABLE} "
                "WHERE state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                "RETURNING sent"
            ).fetchone()
            if row is not None:
                seen.append(time.time() - row[0])
        delays.put(seen)


def _create_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, state text, sent float8)")


def postgres_enqueue_rate(dsn: str, seconds: float) -> dict[str, float]:
    """Rows/s of the raw producer statement sent back to back on one connection."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _create_table(conn)
        try:
            for _ in range(WARMUP):
                conn.execute(PRODUCE, (time.time(),), prepare=True)
            count = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                conn.execute(PRODUCE, (time.time(),), prepare=True)
                count += 1
            elapsed = time.perf_counter() - start
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    return {"rate": count / elapsed, "n": count}


def postgres_latency(dsn: str, count: int = 200, gap: float = 0.02) -> dict[str, float]:
    """Percentiles (ms) of raw insert+NOTIFY → claimed by another process."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _create_table(conn)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    results: Queue[list[float]] = context.Queue()
    listener = context.Process(target=_listener, args=(dsn, ready, results))
    listener.start()
    try:
        if not ready.wait(30):
            raise TimeoutError("the floor's listener did not start")
        with psycopg.connect(dsn, autocommit=True) as producer:
            for _ in range(WARMUP + count):
                producer.execute(PRODUCE, (time.time(),))
                time.sleep(gap)
            producer.execute(f"NOTIFY {CHANNEL}, 'stop'")
        delays = [d * 1000 for d in results.get(timeout=30)[WARMUP:]]
    finally:
        listener.join(10)
        if listener.is_alive():
            listener.kill()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    return {
        "p50": percentile(delays, 50),
        "p95": percentile(delays, 95),
        "p99": percentile(delays, 99),
        "n": len(delays),
    }


def sqlite_latency(workdir: Path, count: int = 200, gap: float = 0.02) -> dict[str, float]:
    """Percentiles (ms) of raw insert+commit → claimed+committed by another thread."""
    path = workdir / "floor.db"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    producer, consumer = connect(), connect()
    producer.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT, sent REAL)")
    woken = threading.Semaphore(0)
    delays: list[float] = []

    def claim_each() -> None:
        for _ in range(WARMUP + count):
            woken.acquire()
            consumer.execute("BEGIN IMMEDIATE")
            row = consumer.execute(
                "UPDATE jobs SET state = 'running' WHERE id = (SELECT id FROM jobs "
                "WHERE state = 'pending' ORDER BY id LIMIT 1) RETURNING sent"
            ).fetchone()
            consumer.execute("COMMIT")
            delays.append(time.time() - row[0])

    claimer = threading.Thread(target=claim_each, name="floor-claimer")
    claimer.start()
    try:
        for _ in range(WARMUP + count):
            producer.execute("BEGIN IMMEDIATE")
            producer.execute("INSERT INTO jobs (state, sent) VALUES ('pending', ?)", (time.time(),))
            producer.execute("COMMIT")
            woken.release()
            time.sleep(gap)
    finally:
        claimer.join(30)
        producer.close()
        consumer.close()
        for leftover in workdir.glob("floor.db*"):
            leftover.unlink()
    measured = [d * 1000 for d in delays[WARMUP:]]
    return {
        "p50": percentile(measured, 50),
        "p95": percentile(measured, 95),
        "p99": percentile(measured, 99),
        "n": len(measured),
    }
