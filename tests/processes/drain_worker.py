"""A worker process for the multi-process tests: runs `probe` jobs that count their runs.

Run as `python drain_worker.py` with UNDERWAY_DATABASE_URL set; SIGTERM stops it gracefully.
Each run inserts (job id, attempt, pid) into the side table `<schema>.runs` over a connection
that is not named `underway:*`, so tests that kill underway's connections leave it alone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from psycopg_pool import ConnectionPool

from underway import App, JobContext
from underway.backends.postgres.connection import parse_postgres_url

URL = os.environ["UNDERWAY_DATABASE_URL"]
TARGET = parse_postgres_url(URL)
app = App(URL)
ledger = ConnectionPool(
    TARGET.conninfo,
    min_size=1,
    max_size=4,
    kwargs={"autocommit": True, "application_name": f"probe-ledger:{os.getpid()}"},
    check=ConnectionPool.check_connection,
    open=False,
)


@app.job(retries=5)
def probe(ctx: JobContext, n: int) -> int:
    with ledger.connection() as conn:
        conn.execute(
            f'INSERT INTO "{TARGET.schema}".runs (job_id, n, attempt, pid) VALUES (%s, %s, %s, %s)',
            (ctx.job_id, n, ctx.attempt, os.getpid()),
        )
    return n


def main() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ledger.open(wait=True, timeout=30)
    worker = app.start_worker(
        concurrency=int(os.environ.get("PROBE_CONCURRENCY", "8")),
        poll_interval=0.5,
        heartbeat_interval=1.0,
        stall_timeout=15.0,
        sweep_interval=1.0,
        shutdown_grace=5.0,
    )
    print("ready", flush=True)
    stop.wait()
    worker.stop()
    app.close()
    ledger.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
