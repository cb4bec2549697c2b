"""Read-only queries of the SQLite backend (jobs, logs, stats, workers)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...models import Job, JobFilter, JobPage, LogEntry, Stats, WorkerInfo
from .. import policy
from ..codecs import epoch_to_datetime, json_text_to_data
from ..rows import job_from_row, job_from_values
from . import queue_counts


def data(value: str | None) -> Any:
    return json_text_to_data(value)


def job(row: sqlite3.Row) -> Job:
    return job_from_row(
        dict(zip(row.keys(), row, strict=True)), epoch_to_datetime, json_text_to_data
    )


GET = "SELECT * FROM underway_jobs WHERE id = ?"
#: The ids as one JSON array, so that one statement reads any number of jobs; the columns of
#: `rows.JOB_COLUMNS`, in its order, so that each row is read as a plain tuple.
GET_MANY = """
SELECT id, name, queue, priority, state, args, attempt, max_attempts, created_at, run_at,
    started_at, finished_at, heartbeat_at, worker_id, progress, message, result, error, errors,
    fingerprint, unique_mode, lane, cancel_requested, retention_s, log_count, logs_dropped,
    duplicate_of, skip_reason, recurring_id, fire_at, losses, snoozes, rate_key, workflow_id,
    waiting_on, failed_dependencies, dependency_rule, tolerate, results_into, results_shape
FROM underway_jobs WHERE id IN (SELECT value FROM json_each(?))
"""


def get(conn: sqlite3.Connection, job_id: str) -> Job | None:
    return first(conn, GET, (job_id,))


def get_many(conn: sqlite3.Connection, job_ids: list[str]) -> list[Job]:
    """The jobs of these ids that exist, in the order given (thousands at once: a drain's)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    when = remembered_times()
    found = {
        row[0]: job_from_values(row, when, json_text_to_data)
        for row in cursor.execute(GET_MANY, (json.dumps(job_ids),))
    }
    return [found[job_id] for job_id in job_ids if job_id in found]


def remembered_times() -> Callable[[float | None], datetime | None]:
    """`epoch_to_datetime` that converts each time once: jobs enqueued, claimed or finished
    in one batch share their times, and a datetime is immutable."""
    seen: dict[float | None, datetime | None] = {None: None}

    def when(value: float | None) -> datetime | None:
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = epoch_to_datetime(value)
            return converted

    return when


def first(conn: sqlite3.Connection, statement: str, params: tuple[Any, ...]) -> Job | None:
    """The first job a SELECT of whole job rows finds, if any."""
    row = conn.execute(statement, params).fetchone()
    return None if row is None else job(row)


def running_leases(conn: sqlite3.Connection, worker_id: str) -> dict[str, tuple[int, bool]]:
    """Job id → (attempt, cancel requested) for the jobs this worker holds."""
    rows = conn.execute(
        "SELECT id, attempt, cancel_requested FROM underway_jobs "
        "WHERE worker_id = ? AND state = 'running'",
        (worker_id,),
    )
    return {row["id"]: (row["attempt"], bool(row["cancel_requested"])) for row in rows}


def list_jobs(conn: sqlite3.Connection, query: JobFilter) -> JobPage:
    """A page of jobs; positions are seq, the order of insertion (the table's rowid)."""
    before = _position(query.before)
    floor = None
    if query.scan is not None:
        top = before or conn.execute(TOP).fetchone()[0]
        floor = max(0, top - query.scan)
    clauses, params = _filter_clauses(query, before, floor)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    if query.order == "created":
        statement = f"SELECT * FROM underway_jobs {where} ORDER BY seq DESC LIMIT ? OFFSET ?"
        page = (*params, query.limit, query.offset)
    else:
        statement = SORTED.format(where=where, order=ORDERS[query.order])
        page = (*params, policy.SORT_WINDOW, query.limit, query.offset)
    rows = conn.execute(statement, page).fetchall()
    total = len(rows)
    if query.count:
        statement, counted = f"SELECT 1 FROM underway_jobs {where}", params
        if query.count_limit is not None:
            statement, counted = f"{statement} LIMIT ?", [*params, query.count_limit]
        total = conn.execute(f"SELECT count(*) FROM ({statement})", counted).fetchone()[0]
    positions = [str(row["seq"]) for row in rows]
    older = str(floor) if floor is not None and floor > 1 else None
    return JobPage(
        jobs=[job(row) for row in rows],
        total=int(total),
        next_before=policy.listing_next(query, positions, older),
    )


def _position(before: str | None) -> int | None:
    """A listing's `before` as a seq (one this backend did not write lists from the top)."""
    return int(before) if before is not None and before.isdigit() else None


#: The position above the newest job: where a bounded scan with no `before` starts.
TOP = "SELECT coalesce(max(seq), 0) + 1 FROM underway_jobs"
#: The newest SORT_WINDOW matches, ranked by another order (a running job's duration counts
#: until now, as epoch seconds).
SORTED = """
SELECT * FROM underway_jobs WHERE seq IN (
    SELECT seq FROM underway_jobs {where} ORDER BY seq DESC LIMIT ?)
ORDER BY {order} DESC NULLS LAST, seq DESC LIMIT ? OFFSET ?
"""
ORDERS = {
    "started": "started_at",
    "duration": "coalesce(finished_at, (julianday('now') - 2440587.5) * 86400.0) - started_at",
}

#: How each of policy's listing filters is written.
LIST_FILTERS = {
    "name": "name = ?",
    "queue": "queue = ?",
    "created_after": "created_at >= ?",
    "created_before": "created_at < ?",
    "search": ("(id LIKE ? ESCAPE '\\' OR args LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\')"),
}


def _filter_clauses(
    query: JobFilter, before: int | None, floor: int | None
) -> tuple[list[str], list[Any]]:
    clauses = [policy.state_condition(query.states)] if query.states else []
    params: list[Any] = []
    for name, values in policy.listing_filters(query):
        clauses.append(LIST_FILTERS[name])
        # Times are stored as epoch seconds.
        params.extend(v.timestamp() if isinstance(v, datetime) else v for v in values)
    if before is not None:
        clauses.append("seq < ?")
        params.append(before)
    if floor is not None:
        clauses.append("seq >= ?")
        params.append(floor)
    return clauses, params


def logs(conn: sqlite3.Connection, job_id: str, after: int, limit: int) -> list[LogEntry]:
    rows = conn.execute(
        "SELECT at, level, message FROM underway_job_logs WHERE job_id = ? AND seq > ? "
        "ORDER BY seq LIMIT ?",
        (job_id, after, limit),
    )
    return [
        LogEntry(at=epoch_to_datetime(r["at"]) or _never(), message=r["message"], level=r["level"])
        for r in rows
    ]


def _never() -> Any:
    raise AssertionError("log line without a time")


#: Jobs in the states few jobs are in, from their partial index (its condition written out).
FEW_STATE_COUNTS = """
SELECT state, count(*) FROM underway_jobs
WHERE state = 'running' OR state = 'scheduled' OR state = 'failed' OR state = 'cancelled'
   OR state = 'skipped' OR state = 'waiting'
GROUP BY state
"""
#: Pending and scheduled jobs, from the claim indexes (`queue_counts.READY_JOBS`); and all
#: jobs, counted on the narrowest index. Neither reads the table's rows.
READY_AND_ALL = f"""
SELECT (SELECT count(*) FROM ({queue_counts.READY_JOBS})),
       (SELECT count(*) FROM underway_jobs)
"""


def stats(conn: sqlite3.Connection, now: float) -> Stats:
    """Jobs per state, counted on indexes (a count of every row's state reads the whole
    table): completed ones are all jobs less those in other states."""
    few: dict[str, int] = dict(conn.execute(FEW_STATE_COUNTS).fetchall())
    ready, total = conn.execute(READY_AND_ALL).fetchone()
    scheduled = few.get("scheduled", 0)
    found = {
        **few,
        "pending": ready - scheduled,
        "completed": total - ready - (sum(few.values()) - scheduled),
    }
    counts = {state: n for state, n in found.items() if n}
    minute, hour = conn.execute(
        "SELECT count(*) FILTER (WHERE finished_at >= ?), count(*) FROM underway_jobs "
        "WHERE finished_at >= ? AND state IN ('completed', 'failed', 'cancelled')",
        (now - 60, now - 3600),
    ).fetchone()
    return Stats(counts=counts, finished_last_minute=minute, finished_last_hour=hour)


def workers(conn: sqlite3.Connection, alive_since: float) -> list[WorkerInfo]:
    rows = conn.execute(
        "SELECT w.*, (SELECT json_group_array(j.id) FROM underway_jobs j "
        "WHERE j.worker_id = w.id AND j.state = 'running') AS running "
        "FROM underway_workers w WHERE w.heartbeat_at >= ? ORDER BY w.started_at",
        (alive_since,),
    )
    return [
        WorkerInfo(
            id=r["id"],
            hostname=r["hostname"],
            pid=r["pid"],
            queues=tuple(json.loads(r["queues"])),
            concurrency=r["concurrency"],
            started_at=epoch_to_datetime(r["started_at"]) or _never(),
            heartbeat_at=epoch_to_datetime(r["heartbeat_at"]) or _never(),
            running=tuple(json.loads(r["running"])),
        )
        for r in rows
    ]
