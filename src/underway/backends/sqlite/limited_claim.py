"""SQLite's claim in one statement of the plain, laned and rate-limited jobs of queues with no
limits of their own, for the common case: when every limited job it would take fits its lane
and its key, it reads, counts and marks them running at once, as `claiming.choose` would have
chosen them. When one does not fit, it takes nothing, and the walk (`claim.claim`) decides:
it parks and holds the keys found full."""

from __future__ import annotations

import json
import sqlite3

from ...models import ClaimedJob
from .. import claiming
from . import rate_starts
from .claimed_rows import claimed, in_claim_order
from .listing import listing

#: `limited`: the first ?3 ready jobs with a lane or a rate key of the queues `(QUEUES)` in
#: claim order, but those of the keys held briefly (JSON array ?2); `plain`: each queue's
#: first ?3 plain jobs (`PLAIN`: a part per queue, see `claim_statement`). The claim takes the
#: first ?3 of both, unless a key or a lane has more jobs among the limited ones read than
#: it has room for (then it takes nothing): the room of the least of the limits its jobs
#: declare.
CLAIM_FITTING = """
WITH limited AS MATERIALIZED (
    SELECT seq, priority, run_at, lane, lane_limit, rate_key, rate_limit
    FROM underway_jobs INDEXED BY underway_jobs_ready_laned
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
      AND held_until IS NULL AND run_at <= ?1 AND queue IN (QUEUES)
      AND (rate_key IS NULL OR rate_key NOT IN (SELECT value FROM json_each(?2)))
    ORDER BY priority DESC, run_at, seq LIMIT ?3),
plain AS (PLAIN),
unfit AS (
    SELECT 1 FROM limited WHERE rate_key IS NOT NULL GROUP BY rate_key
    HAVING count(*) > min(rate_limit) - coalesce((SELECT starts FROM underway_rate_keys
                                                  WHERE key = limited.rate_key), 0)
    UNION ALL
    SELECT 1 FROM limited WHERE lane IS NOT NULL GROUP BY lane
    HAVING count(*) > min(lane_limit) - (
        SELECT count(*) FROM underway_jobs INDEXED BY underway_jobs_running_lanes
        WHERE state = 'running' AND lane IS NOT NULL AND lane = limited.lane))
UPDATE underway_jobs SET state = 'running', attempt = attempt + 1, worker_id = ?4,
    started_at = ?1, heartbeat_at = ?1, progress = 0, message = NULL
WHERE seq IN (SELECT seq FROM (SELECT seq, priority, run_at FROM limited
                               UNION ALL SELECT seq, priority, run_at FROM plain)
              ORDER BY priority DESC, run_at, seq LIMIT ?3)
  AND NOT EXISTS (SELECT 1 FROM unfit)
RETURNING priority, run_at, seq, id, name, args, attempt, max_attempts, dependency_rule,
    workflow_id, queue, trace_context, rate_key, rate_window_s, rate_fixed
"""
#: One queue's (?N) first ?3 plain jobs, walking its part of the ready index.
PLAIN_OF_QUEUE = """SELECT * FROM (
    SELECT seq, priority, run_at FROM underway_jobs INDEXED BY underway_jobs_ready
    WHERE queue = ?N AND state IN ('pending', 'scheduled') AND lane IS NULL
      AND rate_key IS NULL AND run_at <= ?1
    ORDER BY priority DESC, run_at, seq LIMIT ?3)"""
#: The queues' parameters follow the four others.
FIRST_QUEUE = 5


def claim_statement(queues: int) -> str:
    """CLAIM_FITTING for this many queues."""
    numbers = range(FIRST_QUEUE, FIRST_QUEUE + queues)
    plain = " UNION ALL ".join(PLAIN_OF_QUEUE.replace("?N", f"?{n}") for n in numbers)
    return listing(CLAIM_FITTING.replace("PLAIN", plain, 1), "QUEUES", queues, FIRST_QUEUE)


def claim_fitting(
    conn: sqlite3.Connection,
    worker_id: str,
    queues: list[str],
    limit: int,
    now: float,
    held_briefly: list[str],
    dispatch_s: float,
) -> list[ClaimedJob]:
    """Up to `limit` ready jobs of `queues` (queues with no limits of their own) marked running,
    limited ones among them, with their rate starts recorded; none if a limited one would
    not fit."""
    cursor = conn.cursor()
    cursor.row_factory = None  # tuples: a Row per job costs more than the claim's own work
    params = (now, json.dumps(held_briefly), limit, worker_id, *queues)
    rows = cursor.execute(claim_statement(len(queues)), params).fetchall()
    in_claim_order(rows)
    starts = claiming.key_starts((row[-3:] for row in rows), now, dispatch_s)
    rate_starts.record(conn, starts)
    return [
        claimed(id_, name, args, attempt, most, rule, flow, queue, due, trace)
        for _, due, _, id_, name, args, attempt, most, rule, flow, queue, trace, *_ in rows
    ]
