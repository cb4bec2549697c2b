"""Read-only queries of the PostgreSQL backend (jobs, logs, stats, workers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...models import ClaimedJob, Job, JobFilter, JobPage, LogEntry, Stats, WorkerInfo
from .. import policy
from ..rows import claimed_from_row, job_from_row
from .tx import ONE_SNAPSHOT, Row, Tx


def _same(value: Any) -> Any:
    return value


def job(row: Row) -> Job:
    """A Job from a jobs row: psycopg already returns datetimes and decoded jsonb."""
    return job_from_row(row, _same, _same)


def claimed(row: Row) -> ClaimedJob:
    """A ClaimedJob from a claim's answer (jsonb arrives decoded)."""
    return claimed_from_row(row, _same)


GET = "SELECT * FROM {schema}.jobs WHERE id = %s"
GET_MANY = "SELECT * FROM {schema}.jobs WHERE id = ANY(%s)"


async def get(tx: Tx, job_id: str) -> Job | None:
    return await first(tx, GET, (job_id,))


async def get_many(tx: Tx, job_ids: list[str]) -> list[Job]:
    found = {row["id"]: job(row) for row in await tx.rows(GET_MANY, (job_ids,))}
    return [found[job_id] for job_id in job_ids if job_id in found]


async def first(tx: Tx, statement: str, params: tuple[Any, ...]) -> Job | None:
    """The first job a SELECT of whole job rows finds, if any."""
    row = await tx.row(statement, params)
    return None if row is None else job(row)


async def running_leases(tx: Tx, worker_id: str) -> dict[str, tuple[int, bool]]:
    """Job id → (attempt, cancel requested) for the jobs this worker holds."""
    rows = await tx.rows(
        "SELECT id, attempt, cancel_requested FROM {schema}.jobs "
        "WHERE worker_id = %s AND state = 'running'",
        (worker_id,),
    )
    return {row["id"]: (row["attempt"], bool(row["cancel_requested"])) for row in rows}


async def list_jobs(tx: Tx, query: JobFilter) -> JobPage:
    """A page of jobs, newest first by id (a uuid7, which begins with its creation time):
    its unique index orders them, where an index on seq would cost every new version of a
    job's row, at each claim and finish, one more entry. Positions are ids. A bounded scan
    reads the newest `scan` jobs below `before` and filters those. Its statements (the
    scan's floor, the page, the count) see one snapshot."""
    await tx.run(ONE_SNAPSHOT)
    clauses, params = _filter_clauses(query)
    source, floor = "{schema}.jobs", None
    source_params: list[Any] = []
    if query.scan is not None:
        window, source_params = _window(query)
        source = f"({window}) AS jobs"
        floor = await _floor(tx, query, window, source_params)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    if query.order == "created":
        statement = f"SELECT * FROM {source} {where} ORDER BY id DESC LIMIT %s OFFSET %s"
        page = (*source_params, *params, query.limit, query.offset)
    else:
        statement = SORTED.format(where=where, order=ORDERS[query.order], source=source)
        page = (*source_params, *params, policy.SORT_WINDOW, query.limit, query.offset)
    rows = await tx.rows(statement, page, planned=True)
    total = len(rows)
    if query.count:
        statement, counted = f"SELECT 1 FROM {source} {where}", [*source_params, *params]
        if query.count_limit is not None:
            statement, counted = f"{statement} LIMIT %s", [*counted, query.count_limit]
        found = await tx.row(f"SELECT count(*) AS n FROM ({statement}) m", counted, planned=True)
        total = int(found["n"] if found else 0)
    return JobPage(
        jobs=[job(row) for row in rows],
        total=total,
        next_before=policy.listing_next(query, [row["id"] for row in rows], floor),
    )


def _window(query: JobFilter) -> tuple[str, list[Any]]:
    """The jobs a bounded scan looks at: the newest `scan` below `before`."""
    below = "WHERE id < %s " if query.before is not None else ""
    params = [query.before] if query.before is not None else []
    return f"SELECT * FROM {{schema}}.jobs {below}ORDER BY id DESC LIMIT %s", [*params, query.scan]


async def _floor(tx: Tx, query: JobFilter, window: str, params: list[Any]) -> str | None:
    """The oldest id of a full scan window, below which older jobs are left (else None)."""
    ids = window.replace("SELECT *", "SELECT id", 1)
    row = await tx.row(f"SELECT min(id) AS floor, count(*) AS n FROM ({ids}) w", params)
    return str(row["floor"]) if row and query.scan and row["n"] >= query.scan else None


#: The newest SORT_WINDOW matches, ranked by another order (a running job's duration counts
#: until now).
SORTED = """
SELECT * FROM (
    SELECT * FROM {source} {where} ORDER BY id DESC LIMIT %s) recent
ORDER BY {order} DESC NULLS LAST, id DESC LIMIT %s OFFSET %s
"""
ORDERS = {
    "started": "started_at",
    "duration": "coalesce(finished_at, now()) - started_at",
}

#: How each of policy's listing filters is written.
LIST_FILTERS = {
    "name": "name = %s",
    "queue": "queue = %s",
    "created_after": "created_at >= %s",
    "created_before": "created_at < %s",
    "search": "(id ILIKE %s OR args::text ILIKE %s OR error::text ILIKE %s)",
}


def _filter_clauses(query: JobFilter) -> tuple[list[str], list[Any]]:
    clauses = [policy.state_condition(query.states)] if query.states else []
    params: list[Any] = []
    for name, values in policy.listing_filters(query):
        clauses.append(LIST_FILTERS[name])
        params.extend(values)
    if query.before is not None and query.scan is None:  # a scan's window has it
        clauses.append("id < %s")
        params.append(query.before)
    return clauses, params


async def logs(tx: Tx, job_id: str, after: int, limit: int) -> list[LogEntry]:
    rows = await tx.rows(
        "SELECT at, level, message FROM {schema}.job_logs WHERE job_id = %s AND seq > %s "
        "ORDER BY seq LIMIT %s",
        (job_id, after, limit),
    )
    return [LogEntry(at=r["at"], message=r["message"], level=r["level"]) for r in rows]


async def stats(tx: Tx) -> Stats:
    """Jobs per state and those finished lately, counted in one snapshot: a job that ends
    meanwhile is counted running or finished, never both."""
    await tx.run(ONE_SNAPSHOT)
    rows = await tx.rows("SELECT state, count(*) AS n FROM {schema}.jobs GROUP BY state")
    recent = await tx.row(
        "SELECT count(*) FILTER (WHERE finished_at >= now() - interval '1 minute') AS minute, "
        "count(*) AS hour FROM {schema}.jobs WHERE finished_at >= now() - interval '1 hour' "
        "AND state IN ('completed', 'failed', 'cancelled')"
    )
    assert recent is not None
    return Stats(
        counts={row["state"]: int(row["n"]) for row in rows},
        finished_last_minute=int(recent["minute"]),
        finished_last_hour=int(recent["hour"]),
    )


async def workers(tx: Tx, stale_after_s: float) -> list[WorkerInfo]:
    rows = await tx.rows(
        "SELECT w.*, ARRAY(SELECT j.id FROM {schema}.jobs j "
        "  WHERE j.worker_id = w.id AND j.state = 'running' ORDER BY j.seq) AS running "
        "FROM {schema}.workers w "
        "WHERE w.heartbeat_at >= now() - make_interval(secs => %s) ORDER BY w.started_at",
        (stale_after_s,),
    )
    return [_worker(r) for r in rows]


def _worker(row: Row) -> WorkerInfo:
    started: datetime = row["started_at"]
    beat: datetime = row["heartbeat_at"]
    return WorkerInfo(
        id=row["id"],
        hostname=row["hostname"],
        pid=row["pid"],
        queues=tuple(row["queues"]),
        concurrency=row["concurrency"],
        started_at=started,
        heartbeat_at=beat,
        running=tuple(row["running"]),
    )
