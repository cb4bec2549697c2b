"""The dashboard over a large jobs table: 1,000,000 jobs stored in bulk (a mix of states,
queues, names and errors over a week), folded into the history by the rollup, then every
page's server time, in-process (Starlette's test client: rendering included, no network)."""

from __future__ import annotations

import sqlite3
import statistics
import time
from typing import Any

from .measure import say
from .underway_cases import Underway

ROWS, QUICK_ROWS = 1_000_000, 100_000
CHUNK = 100_000
TIMED_RUNS = 5
WEEK_S = 7 * 86400
#: Twelve job names, each in one of four queues (by its position modulo 4).
NAMES = (
    "send_email", "resize_image", "charge_card", "sync_crm", "build_report", "index_document",
    "send_sms", "transcode_video", "refund_order", "export_csv", "warm_cache", "notify_slack",
)  # fmt: skip
QUEUES = ("default", "emails", "media", "reports")
TARGET_MS = 300.0


def pages(failed_id: str) -> dict[str, str]:
    """Every dashboard page, with the filters, search and sorts of the job list."""
    return {
        "overview": "/dashboard",
        "overview, 7 days": "/dashboard?window=7d",
        "jobs": "/dashboard/jobs",
        "jobs, failed": "/dashboard/jobs?state=failed",
        "jobs, name and queue": "/dashboard/jobs?name=charge_card&queue=media",
        "jobs, search": "/dashboard/jobs?q=user4321%40example.com",
        "jobs, search in errors": "/dashboard/jobs?q=gateway+refused",
        "jobs, sort by duration": "/dashboard/jobs?sort=duration",
        "jobs, sort by start": "/dashboard/jobs?state=completed&sort=started",
        "jobs, page 50": "/dashboard/jobs?state=completed&page=50",
        "job": f"/dashboard/jobs/{failed_id}",
        "queues": "/dashboard/queues",
        "workers": "/dashboard/workers",
        "job name, 24 hours": "/dashboard/history/charge_card?window=24h",
        "job name, 7 days": "/dashboard/history/charge_card?window=7d",
        "history, 24 hours": "/dashboard/history?window=24h",
        "history, 7 days": "/dashboard/history?window=7d",
    }


def measure(system: Underway, quick: bool) -> dict[str, Any]:
    """Fill, roll up, then time each page: the median of TIMED_RUNS after one warm-up."""
    rows = QUICK_ROWS if quick else ROWS
    system.reset()
    began = time.perf_counter()
    fill(system, rows)
    filled_s = time.perf_counter() - began
    say(f"  dashboard: {rows} jobs stored in {filled_s:.1f} s")
    from underway import App
    from underway.api import create_api
    from underway.models import WorkerInfo

    app = App(system.url)
    try:
        began = time.perf_counter()
        folded = roll_up_everything(app)
        rollup_s = time.perf_counter() - began
        say(f"  dashboard: rollup folded {folded} jobs in {rollup_s:.1f} s")
        backend = app.runtime.call(app.backend())
        now = app.runtime.call(app.now())
        for n in range(3):
            info = WorkerInfo(f"bench-worker-{n}", "bench-host", 1000 + n, QUEUES[:3], 50, now, now)
            app.runtime.call(backend.heartbeat(info, []))
        failed_id = first_failed(system)
        timings = time_pages(
            create_api(app, insecure=True, allowed_hosts=["testserver"]), pages(failed_id)
        )
    finally:
        app.close()
    return {
        "rows": rows,
        "fill_s": filled_s,
        "rollup_s": rollup_s,
        "folded": folded,
        "pages_ms": timings,
    }


def roll_up_everything(app: Any) -> int:
    total = 0
    while folded := app.roll_up_history(settle_s=0):
        total += folded
    return total


def time_pages(api: Any, urls: dict[str, str]) -> dict[str, float]:
    from fastapi.testclient import TestClient

    timings: dict[str, float] = {}
    with TestClient(api) as client:
        for page, url in urls.items():
            answer = client.get(url)
            if answer.status_code != 200:
                raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
            runs = []
            for _ in range(TIMED_RUNS):
                began = time.perf_counter()
                client.get(url)
                runs.append((time.perf_counter() - began) * 1000)
            timings[page] = statistics.median(runs)
            say(f"  dashboard: {page}: {timings[page]:.1f} ms")
    return timings


def first_failed(system: Underway) -> str:
    sql = "SELECT id FROM {jobs} WHERE state = 'failed' ORDER BY seq DESC LIMIT 1"
    if system.backend == "sqlite":
        with sqlite3.connect(system.db_path) as conn:
            return str(conn.execute(sql.format(jobs="underway_jobs")).fetchone()[0])
    import psycopg

    with psycopg.connect(system.ctx.pg_dsn) as conn:
        row = conn.execute(sql.format(jobs=f"{system.schema}.jobs")).fetchone()
        assert row is not None
        return str(row[0])


def fill(system: Underway, rows: int) -> None:
    """Jobs created over the last week, oldest first: 85% completed, 6% failed (with an
    error), 2% cancelled, 3% pending (a week's backlog in 'reports', which no worker serves),
    2% scheduled, 2% skipped, and one in 5,000 running under three workers."""
    now = time.time()
    params = {"now": now, "week": WEEK_S, "rows": rows}
    if system.backend == "sqlite":
        conn = sqlite3.connect(system.db_path, timeout=60)
        for start in range(0, rows, CHUNK):
            chunk = {**params, "lo": start, "hi": min(rows, start + CHUNK) - 1}
            conn.execute(SQLITE_FILL, {**chunk, "names": names_json(), "queues": queues_json()})
            conn.commit()
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return
    import psycopg

    sql = PG_FILL.format(schema=system.schema)
    with psycopg.connect(system.ctx.pg_dsn, autocommit=True) as conn:
        for start in range(0, rows, CHUNK):
            chunk = {**params, "lo": start, "hi": min(rows, start + CHUNK) - 1}
            conn.execute(sql, {**chunk, "names": list(NAMES), "queues": list(QUEUES)})
        conn.execute(f"VACUUM ANALYZE {system.schema}.jobs")
        conn.execute("CHECKPOINT")


def names_json() -> str:
    return "[" + ",".join(f'"{n}"' for n in NAMES) + "]"


def queues_json() -> str:
    return "[" + ",".join(f'"{q}"' for q in QUEUES) + "]"


#: Per row i: r (0..9999) picks the state; the name is i % 12, its queue (i % 12) % 4; the
#: wait is up to 5 s and the duration up to 10 s.
SQLITE_FILL = """
WITH RECURSIVE c(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM c WHERE i < :hi),
r AS (
    SELECT i, (i * 2654435761) % 10000 AS r,
        :now - :week + i * CAST(:week AS REAL) / :rows AS created,
        ((i * 7919) % 50) / 10.0 AS wait, ((i * 104729) % 1000) / 100.0 AS took
    FROM c
),
s AS (
    SELECT *, CASE WHEN i % 5000 = 0 THEN 'running'
        WHEN r < 8500 THEN 'completed' WHEN r < 9100 THEN 'failed'
        WHEN r < 9300 THEN 'cancelled' WHEN r < 9600 THEN 'pending'
        WHEN r < 9800 THEN 'scheduled' ELSE 'skipped' END AS state
    FROM r
)
INSERT INTO underway_jobs (id, name, queue, priority, state, args, attempt, max_attempts,
    created_at, run_at, started_at, finished_at, heartbeat_at, worker_id, result, error,
    retention_s, expires_at, skip_reason)
SELECT printf('%08d-bench-job', i), json_extract(:names, '$[' || (i % 12) || ']'),
    CASE WHEN state = 'pending' THEN 'reports'
         ELSE json_extract(:queues, '$[' || ((i % 12) % 4) || ']') END,
    0, state,
    json_object('order_id', i, 'email', 'user' || (i % 10000) || '@example.com'),
    CASE WHEN state IN ('pending', 'scheduled', 'skipped') THEN 0
         WHEN state = 'failed' THEN 3 ELSE 1 END, 3,
    created, CASE WHEN state = 'scheduled' THEN :now + 86400 ELSE created END,
    CASE WHEN state IN ('completed', 'failed', 'running') THEN created + wait END,
    CASE WHEN state IN ('completed', 'failed') THEN created + wait + took
         WHEN state IN ('cancelled', 'skipped') THEN created END,
    CASE WHEN state = 'running' THEN :now END,
    CASE WHEN state = 'running' THEN 'bench-worker-' || (i % 3) END,
    CASE WHEN state = 'completed' THEN json_object('ok', 1) END,
    CASE WHEN state = 'failed' THEN json_object('type', 'ConnectionError',
        'message', 'payment gateway refused the connection for order ' || i,
        'traceback', 'Traceback (most recent call last):\n  File "jobs.py", line 42\n'
                     || 'ConnectionError: payment gateway refused the connection',
        'attempt', 3, 'at', created + wait + took) END,
    1209600,
    CASE WHEN state IN ('completed', 'failed') THEN created + wait + took + 1209600
         WHEN state IN ('cancelled', 'skipped') THEN created + 1209600 END,
    CASE WHEN state = 'skipped' THEN 'a run of this job was already active' END
FROM s
"""

PG_FILL = """
WITH r AS (
    SELECT i, (i * 2654435761) %% 10000 AS r,
        to_timestamp(%(now)s - %(week)s + i * %(week)s::float8 / %(rows)s) AS created,
        make_interval(secs => ((i * 7919) %% 50) / 10.0) AS wait,
        make_interval(secs => ((i * 104729) %% 1000) / 100.0) AS took
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
),
s AS (
    SELECT *, CASE WHEN i %% 5000 = 0 THEN 'running'
        WHEN r < 8500 THEN 'completed' WHEN r < 9100 THEN 'failed'
        WHEN r < 9300 THEN 'cancelled' WHEN r < 9600 THEN 'pending'
        WHEN r < 9800 THEN 'scheduled' ELSE 'skipped' END AS state
    FROM r
)
INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, attempt, max_attempts,
    created_at, run_at, started_at, finished_at, heartbeat_at, worker_id, result, error,
    retention_s, expires_at, skip_reason)
SELECT lpad(i::text, 8, '0') || '-bench-job', (%(names)s::text[])[1 + i %% 12],
    CASE WHEN state = 'pending' THEN 'reports'
         ELSE (%(queues)s::text[])[1 + (i %% 12) %% 4] END,
    0, state,
    jsonb_build_object('order_id', i, 'email', 'user' || (i %% 10000) || '@example.com'),
    CASE WHEN state IN ('pending', 'scheduled', 'skipped') THEN 0
         WHEN state = 'failed' THEN 3 ELSE 1 END, 3,
    created, CASE WHEN state = 'scheduled' THEN to_timestamp(%(now)s + 86400) ELSE created END,
    CASE WHEN state IN ('completed', 'failed', 'running') THEN created + wait END,
    CASE WHEN state IN ('completed', 'failed') THEN created + wait + took
         WHEN state IN ('cancelled', 'skipped') THEN created END,
    CASE WHEN state = 'running' THEN to_timestamp(%(now)s) END,
    CASE WHEN state = 'running' THEN 'bench-worker-' || (i %% 3) END,
    CASE WHEN state = 'completed' THEN '{{"ok": 1}}'::jsonb END,
    CASE WHEN state = 'failed' THEN jsonb_build_object('type', 'ConnectionError',
        'message', 'payment gateway refused the connection for order ' || i,
        'traceback', E'Traceback (most recent call last):\\n  File "jobs.py", line 42\\n'
                     || 'ConnectionError: payment gateway refused the connection',
        'attempt', 3, 'at', extract(epoch FROM created + wait + took)) END,
    1209600,
    CASE WHEN state IN ('completed', 'failed') THEN created + wait + took + interval '14 days'
         WHEN state IN ('cancelled', 'skipped') THEN created + interval '14 days' END,
    CASE WHEN state = 'skipped' THEN 'a run of this job was already active' END
FROM s
"""
