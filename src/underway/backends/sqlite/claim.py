"""Claiming ready jobs on SQLite: the order and the lane ranking are policy's; the
statements here read the candidates and mark the chosen ones running. INDEXED BY: without
statistics the planner would pick the state index and sort every pending row."""

from __future__ import annotations

import json
import sqlite3

from ...models import ClaimedJob
from .. import policy
from ..codecs import json_text_to_data
from ..rows import claimed_from_row

#: One queue's first `limit` plain jobs, walking its part of the ready index.
FIRST_PLAIN = """
SELECT seq, priority, run_at FROM underway_jobs INDEXED BY underway_jobs_ready
WHERE queue = ? AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
  AND run_at <= ?
ORDER BY priority DESC, run_at, seq LIMIT ?
"""
#: FIRST_PLAIN of jobs of the names in a JSON array only (a drain of some jobs). The laned
#: statements below take that array too, twice (NULL: any name).
FIRST_PLAIN_OF_NAMES = """
SELECT seq, priority, run_at FROM underway_jobs INDEXED BY underway_jobs_ready
WHERE queue = ? AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
  AND run_at <= ?
  AND name IN (SELECT value FROM json_each(?))
ORDER BY priority DESC, run_at, seq LIMIT ?
"""
#: The first ready jobs of lanes with free slots, ranking the first `scan` laned jobs of the
#: queues in `(QUEUES)` in claim order (-1: all of them).
RANKED_IN_LANES = """
WITH running AS (SELECT lane, count(*) AS n FROM underway_jobs
                 INDEXED BY underway_jobs_running_lanes
                 WHERE state = 'running' AND lane IS NOT NULL GROUP BY lane),
ready AS (SELECT seq, priority, run_at, lane, lane_limit FROM underway_jobs
          INDEXED BY underway_jobs_ready_laned
          WHERE state IN ('pending', 'scheduled') AND run_at <= ? AND queue IN (QUEUES)
            AND (lane IS NOT NULL OR rate_key IS NOT NULL)
            AND (? IS NULL OR name IN (SELECT value FROM json_each(?)))
          ORDER BY priority DESC, run_at, seq LIMIT ?),
ranked AS (SELECT ready.*, row_number() OVER
           (PARTITION BY lane ORDER BY priority DESC, run_at, seq) AS rn FROM ready)
SELECT ranked.seq, ranked.priority, ranked.run_at FROM ranked
LEFT JOIN running ON running.lane = ranked.lane
WHERE ranked.rn <= ranked.lane_limit - coalesce(running.n, 0)
ORDER BY ranked.priority DESC, ranked.run_at, ranked.seq LIMIT ?
"""
#: The first laned job the first scan left out, if any.
FIRST_UNSCANNED = """
SELECT priority, run_at, seq FROM underway_jobs INDEXED BY underway_jobs_ready_laned
WHERE state IN ('pending', 'scheduled') AND run_at <= ? AND queue IN (QUEUES)
  AND (lane IS NOT NULL OR rate_key IS NOT NULL)
    AND (? IS NULL OR name IN (SELECT value FROM json_each(?)))
ORDER BY priority DESC, run_at, seq LIMIT 1 OFFSET ?
"""
START_CHOSEN = """
UPDATE underway_jobs SET state = 'running', attempt = attempt + 1, worker_id = ?,
    started_at = ?, heartbeat_at = ?, progress = 0, message = NULL
WHERE seq IN (CHOSEN)
RETURNING seq, id, name, args, attempt, max_attempts
"""


def claim(
    conn: sqlite3.Connection,
    worker_id: str,
    queues: list[str],
    limit: int,
    now: float,
    names: list[str] | None = None,
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running (of these `names` only, if given), in claim
    order, lanes within their limits (one write transaction: SQLite's writers take turns, so
    the claim needs no lock of its own)."""
    of = None if names is None else json.dumps(names)
    plain = []
    for queue in queues:
        if of is None:
            plain += conn.execute(FIRST_PLAIN, (queue, now, limit)).fetchall()
        else:
            plain += conn.execute(FIRST_PLAIN_OF_NAMES, (queue, now, of, limit)).fetchall()
    if len(queues) > 1:
        plain = sorted(plain, key=policy.claim_order)[:limit]
    after = policy.last_if_full(plain, limit)
    laned = _laned_candidates(conn, queues, limit, now, of, after)
    chosen = policy.choose(plain, laned, limit)
    if not chosen:
        return []
    seqs = [row["seq"] for row in chosen]
    started = listing(START_CHOSEN, "CHOSEN", len(seqs))
    rows = conn.execute(started, (worker_id, now, now, *seqs)).fetchall()
    order = {seq: i for i, seq in enumerate(seqs)}
    return [
        claimed_from_row(row, json_text_to_data)
        for row in sorted(rows, key=lambda r: order[r["seq"]])
    ]


def _laned_candidates(
    conn: sqlite3.Connection,
    queues: list[str],
    limit: int,
    now: float,
    of: str | None,
    after: object,
) -> list[sqlite3.Row]:
    """The first ready jobs of lanes with free slots."""
    ranked = listing(RANKED_IN_LANES, "QUEUES", len(queues))
    found = conn.execute(ranked, (now, *queues, of, of, policy.LANE_SCAN, limit)).fetchall()
    if len(found) >= limit:
        return found
    first_unscanned = listing(FIRST_UNSCANNED, "QUEUES", len(queues))
    unscanned = conn.execute(first_unscanned, (now, *queues, of, of, policy.LANE_SCAN)).fetchone()
    if not policy.rank_whole_backlog(found, limit, unscanned, after):
        return found
    return conn.execute(ranked, (now, *queues, of, of, -1, limit)).fetchall()


def listing(statement: str, name: str, count: int) -> str:
    """`statement` with `count` parameters where it names the list `name`: SQLite binds no
    arrays, so a list of values takes one `?` each."""
    return statement.replace(name, ",".join("?" * count))
