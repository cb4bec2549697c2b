"""Reading what holds a job on SQLite, in one read transaction; `blocking` decides what the
facts mean. Times are epoch seconds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from ...explanations import (
    BlockingFacts,
    Explanation,
    LaneFacts,
    QueueFacts,
    RateFacts,
    RunningFacts,
)
from .. import blocking, claiming
from ..base import Clock
from ..codecs import epoch_to_datetime
from . import rate_starts, reads
from .connection import SQLiteConnection
from .dependencies import ENDS, STANDS

JOB = "SELECT * FROM underway_jobs WHERE id = ?"
QUEUE = "SELECT * FROM underway_queues WHERE name = ?"
#: The first running jobs of a queue (the count is of them all: a window runs before LIMIT).
RUNNING_IN_QUEUE = """
SELECT id, count(*) OVER () AS n FROM underway_jobs
WHERE queue = ? AND state = 'running' ORDER BY started_at, seq LIMIT ?
"""
RUNNING_IN_LANE = """
SELECT id, count(*) OVER () AS n FROM underway_jobs
WHERE lane = ? AND state = 'running' ORDER BY started_at, seq LIMIT ?
"""
#: The first jobs a waiting job depends on that have not ended, in the order given.
WAITING_FOR = f"""
SELECT edge.dependency_id FROM underway_dependencies AS edge
LEFT JOIN underway_jobs AS dependency ON dependency.id = edge.dependency_id
WHERE edge.job_id = ? AND {STANDS} NOT IN {ENDS} ORDER BY edge.position LIMIT ?
"""
#: Ready jobs of the queue a claim takes before this one (priority, run_at, seq), up to a bound.
AHEAD = """
SELECT count(*) FROM (
    SELECT 1 FROM underway_jobs
    WHERE queue = ? AND state IN ('pending', 'scheduled') AND run_at <= ?
      AND (priority > ? OR (priority = ? AND (run_at < ? OR (run_at = ? AND seq < ?))))
    LIMIT ?
)
"""


class SQLiteBlockers:
    """`Backend.blockers` on SQLite: a part of SQLiteBackend, which gives the reader and clock."""

    _reader: SQLiteConnection
    _clock: Clock

    async def blockers(self, job_id: str, stale_after_s: float) -> Explanation | None:
        now = self._clock.now()
        facts = await self._reader.read(lambda c: read_facts(c, job_id, now, stale_after_s))
        return None if facts is None else blocking.explain(facts, stale_after_s)


def read_facts(
    conn: sqlite3.Connection, job_id: str, now: float, stale_after_s: float
) -> BlockingFacts | None:
    """What holds job `job_id` at `now`, or None if there is no such job."""
    row = conn.execute(JOB, (job_id,)).fetchone()
    if row is None:
        return None
    job = reads.job(row)
    lane = None
    if row["lane"] is not None and row["lane_limit"] is not None:
        running = running_jobs(conn, RUNNING_IN_LANE, row["lane"])
        lane = LaneFacts(row["lane"], row["lane_limit"], running)
    rate = None
    if row["rate_key"] is not None and row["rate_limit"] is not None:
        limit = (row["rate_limit"], row["rate_window_s"], bool(row["rate_fixed"]))
        rate = rate_facts(conn, row["rate_key"], *limit, now)
    return BlockingFacts(
        job=job,
        now=datetime.fromtimestamp(now, UTC),
        queue=queue_facts(conn, job.queue, now),
        lane=lane,
        rate=rate,
        live_workers=tuple(reads.workers(conn, now - stale_after_s)),
        ahead=conn.execute(AHEAD, ahead_params(row, now)).fetchone()[0],
        waiting_for=waiting_for(conn, job_id) if job.waiting_on else (),
    )


def waiting_for(conn: sqlite3.Connection, job_id: str) -> tuple[str, ...]:
    rows = conn.execute(WAITING_FOR, (job_id, blocking.NAMED_DEPENDENCIES))
    return tuple(row[0] for row in rows)


def queue_facts(conn: sqlite3.Connection, name: str, now: float) -> QueueFacts:
    row = conn.execute(QUEUE, (name,)).fetchone()
    if row is None:
        return QueueFacts(name)
    rate = None
    if row["rate_limit"] is not None:
        limit = (row["rate_limit"], row["rate_window_s"], bool(row["rate_fixed"]))
        rate = rate_facts(conn, claiming.queue_key(name), *limit, now)
    return QueueFacts(
        name,
        paused=bool(row["paused"]),
        paused_at=epoch_to_datetime(row["paused_at"]),
        paused_by=row["paused_by"],
        concurrency=row["concurrency"],
        running=running_jobs(conn, RUNNING_IN_QUEUE, name),
        rate=rate,
    )


def running_jobs(conn: sqlite3.Connection, statement: str, key: str) -> RunningFacts:
    rows = conn.execute(statement, (key, blocking.NAMED_RUNNING)).fetchall()
    return RunningFacts(rows[0]["n"], tuple(r["id"] for r in rows)) if rows else RunningFacts()


def rate_facts(
    conn: sqlite3.Connection, key: str, limit: int, window_s: float, fixed: bool, now: float
) -> RateFacts:
    count = rate_starts.live(conn, key, now)
    offset = blocking.next_slot_offset(count, limit)
    next_slot_at = None
    if offset is not None:
        next_slot_at = epoch_to_datetime(rate_starts.expiry_at(conn, key, now, offset))
    return RateFacts(key, limit, window_s, fixed, count, next_slot_at)


def ahead_params(row: sqlite3.Row, now: float) -> tuple[object, ...]:
    """AHEAD's parameters: the job's queue and claim key, counting one past the bound."""
    priority, run_at, seq = row["priority"], row["run_at"], row["seq"]
    bound = blocking.AHEAD_COUNTED + 1
    return (row["queue"], now, priority, priority, run_at, run_at, seq, bound)
