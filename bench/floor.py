"""The machine's floor for enqueue→start on PostgreSQL: no job system, just raw psycopg.

A producer inserts a row and NOTIFYs in one autocommitted statement; a listener in another
process wakes on the notification and claims the row with one `UPDATE ... FOR UPDATE SKIP
LOCKED ... RETURNING`, also autocommitted. Same count and gap as the latency scenario. No
job system can start a job sooner than this on the same machine, so the latency table shows
how far each one is from it.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

import psycopg

from .measure import percentile

TABLE = "bench_floor_jobs"
CHANNEL = "bench_floor"
WARMUP = 20


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


def postgres_latency(dsn: str, count: int = 200, gap: float = 0.02) -> dict[str, float]:
    """Percentiles (ms) of raw insert+NOTIFY → claimed by another process."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, state text, sent float8)")
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
                producer.execute(
                    f"WITH i AS (INSERT INTO {TABLE} (state, sent) VALUES ('pending', %s) "
                    f"RETURNING id) SELECT pg_notify('{CHANNEL}', 'job') FROM i",
                    (time.time(),),
                )
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
