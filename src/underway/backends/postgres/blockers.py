"""Reading what holds a job on PostgreSQL, in one read-only REPEATABLE READ transaction (one
snapshot, one now()); `blocking` decides what the facts mean."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...explanations import (
    BlockingFacts,
    Explanation,
    LaneFacts,
    QueueFacts,
    RateFacts,
    RunningFacts,
)
from .. import blocking, claiming
from . import rate_keys, reads
from .connection import PostgresPool
from .dependencies import ENDS, STANDS
from .tx import ONE_SNAPSHOT, Row, Tx
from .values import NUL

NOW = "SELECT now() AS now"
JOB = "SELECT * FROM {schema}.jobs WHERE id = %s"
QUEUE = "SELECT * FROM {schema}.queues WHERE name = %s"
#: The first running jobs of a queue (the count is of them all: a window runs before LIMIT).
RUNNING_IN_QUEUE = """
SELECT id, count(*) OVER () AS n FROM {schema}.jobs
WHERE queue = %s AND state = 'running' ORDER BY started_at, seq LIMIT %s
"""
RUNNING_IN_LANE = """
SELECT id, count(*) OVER () AS n FROM {schema}.jobs
WHERE lane = %s AND state = 'running' ORDER BY started_at, seq LIMIT %s
"""
#: The first jobs a waiting job depends on that have not ended, in the order given.
WAITING_FOR = f"""
SELECT e.dependency_id FROM {{schema}}.dependencies AS e
LEFT JOIN {{schema}}.jobs AS d ON d.id = e.dependency_id
WHERE e.job_id = %s AND {STANDS} NOT IN {ENDS} ORDER BY e.position LIMIT %s
"""
LIVE_STARTS = "SELECT " + rate_keys.count_live("%(key)s") + " AS n"
#: When the live start at a given position, soonest to expire first, leaves the window.
START_EXPIRY = "SELECT " + rate_keys.expiry_at("%(key)s", "%(offset)s") + " AS expires_at"
#: Ready jobs of the queue a claim takes before this one (priority, run_at, seq), up to a bound.
AHEAD = """
SELECT count(*) AS n FROM (
    SELECT 1 FROM {schema}.jobs
    WHERE queue = %(queue)s AND state IN ('pending', 'scheduled') AND run_at <= now()
      AND (priority > %(priority)s OR (priority = %(priority)s AND (run_at < %(run_at)s
           OR (run_at = %(run_at)s AND seq < %(seq)s))))
    LIMIT %(bound)s
) AS ahead
"""


class PostgresBlockers:
    """`Backend.blockers` on PostgreSQL: a part of PostgresBackend, which gives the pool."""

    _pool: PostgresPool

    async def blockers(self, job_id: str, stale_after_s: float) -> Explanation | None:
        if NUL in job_id:
            return None
        facts = await self._pool.transaction(lambda tx: read_facts(tx, job_id, stale_after_s))
        return None if facts is None else blocking.explain(facts, stale_after_s)


async def read_facts(tx: Tx, job_id: str, stale_after_s: float) -> BlockingFacts | None:
    """What holds job `job_id` now, or None if there is no such job."""
    await tx.run(ONE_SNAPSHOT)
    row = await tx.row(JOB, (job_id,))
    if row is None:
        return None
    job = reads.job(row)
    lane = None
    if row["lane"] is not None and row["lane_limit"] is not None:
        running = await running_jobs(tx, RUNNING_IN_LANE, row["lane"])
        lane = LaneFacts(row["lane"], row["lane_limit"], running)
    rate = None
    if row["rate_key"] is not None and row["rate_limit"] is not None:
        limit = (row["rate_limit"], row["rate_window_s"], row["rate_fixed"])
        rate = await rate_facts(tx, row["rate_key"], *limit)
    return BlockingFacts(
        job=job,
        now=await now(tx),
        queue=await queue_facts(tx, job.queue),
        lane=lane,
        rate=rate,
        live_workers=tuple(await reads.workers(tx, stale_after_s)),
        ahead=await count(tx, AHEAD, ahead_params(row)),
        waiting_for=await waiting_for(tx, job_id) if job.waiting_on else (),
    )


async def waiting_for(tx: Tx, job_id: str) -> tuple[str, ...]:
    rows = await tx.rows(WAITING_FOR, (job_id, blocking.NAMED_DEPENDENCIES))
    return tuple(row["dependency_id"] for row in rows)


async def now(tx: Tx) -> datetime:
    row = await tx.row(NOW)
    assert row is not None
    moment: datetime = row["now"]
    return moment


async def queue_facts(tx: Tx, name: str) -> QueueFacts:
    row = await tx.row(QUEUE, (name,))
    if row is None:
        return QueueFacts(name)
    rate = None
    if row["rate_limit"] is not None:
        limit = (row["rate_limit"], row["rate_window_s"], row["rate_fixed"])
        rate = await rate_facts(tx, claiming.queue_key(name), *limit)
    return QueueFacts(
        name,
        paused=row["paused"],
        paused_at=row["paused_at"],
        paused_by=row["paused_by"],
        concurrency=row["concurrency"],
        running=await running_jobs(tx, RUNNING_IN_QUEUE, name),
        rate=rate,
    )


async def running_jobs(tx: Tx, statement: str, key: str) -> RunningFacts:
    rows = await tx.rows(statement, (key, blocking.NAMED_RUNNING))
    return RunningFacts(rows[0]["n"], tuple(r["id"] for r in rows)) if rows else RunningFacts()


async def rate_facts(tx: Tx, key: str, limit: int, window_s: float, fixed: bool) -> RateFacts:
    live = await count(tx, LIVE_STARTS, {"key": key})
    offset = blocking.next_slot_offset(live, limit)
    next_slot_at = None
    if offset is not None:
        expiry = await tx.row(START_EXPIRY, {"key": key, "offset": offset})
        next_slot_at = None if expiry is None else expiry["expires_at"]
    return RateFacts(key, limit, window_s, fixed, live, next_slot_at)


async def count(tx: Tx, statement: str, params: Any) -> int:
    row = await tx.row(statement, params)
    return 0 if row is None else int(row["n"])


def ahead_params(row: Row) -> dict[str, Any]:
    """AHEAD's parameters: the job's queue and claim key, counting one past the bound."""
    keys = ("queue", "priority", "run_at", "seq")
    return {key: row[key] for key in keys} | {"bound": blocking.AHEAD_COUNTED + 1}
