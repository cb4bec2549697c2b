"""Claiming ready jobs on SQLite: the order, the ranking and the limits are `claiming`'s; the
statements here read the candidates and the counts, mark the chosen ones running and record
their rate starts. INDEXED BY: without statistics the planner would pick the state index and
sort every pending row."""

from __future__ import annotations

import json
import sqlite3

from ...models import ClaimedJob
from .. import claiming
from ..codecs import json_text_to_data
from ..rows import claimed_from_row

#: The served queues an operator paused or that declare limits, with their running jobs and
#: their live rate starts counted (most queues have no row: the statement finds nothing).
#: Running jobs are counted from the index of leases, which holds only running jobs: an
#: index of them per queue would cost every claim and finish a write.
QUEUE_CONTROLS = """
SELECT q.name, q.paused, q.concurrency, q.rate_limit, q.rate_window_s, q.rate_fixed,
    (SELECT count(*) FROM underway_jobs INDEXED BY underway_jobs_running
     WHERE state = 'running' AND queue = q.name) AS running,
    (SELECT count(*) FROM underway_rate_starts
     WHERE key = 'queue:' || q.name AND expires_at > ?) AS started
FROM underway_queues AS q
WHERE q.name IN (QUEUES)
  AND (q.paused OR q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL)
"""
#: One queue's first `limit` plain jobs, walking its part of the ready index.
FIRST_PLAIN = """
SELECT seq, priority, run_at, queue FROM underway_jobs INDEXED BY underway_jobs_ready
WHERE queue = ? AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
  AND run_at <= ?
ORDER BY priority DESC, run_at, seq LIMIT ?
"""
#: FIRST_PLAIN of jobs of the names in a JSON array only (a drain of some jobs). The limited
#: statements below take that array too, twice (NULL: any name).
FIRST_PLAIN_OF_NAMES = """
SELECT seq, priority, run_at, queue FROM underway_jobs INDEXED BY underway_jobs_ready
WHERE queue = ? AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
  AND run_at <= ?
  AND name IN (SELECT value FROM json_each(?))
ORDER BY priority DESC, run_at, seq LIMIT ?
"""
#: The first ready jobs with a lane or a rate key whose lane and key have room, ranking the
#: first `scan` such jobs of the queues in `(QUEUES)` in claim order (-1: all of them): in
#: each lane and each key, only as many as it has room for, after leaving out the jobs whose
#: lane or key is full. With each, the room its lane and key had (`claiming.choose` counts
#: the jobs chosen before it).
RANKED_LIMITED = """
WITH running AS (SELECT lane, count(*) AS n FROM underway_jobs
                 INDEXED BY underway_jobs_running_lanes
                 WHERE state = 'running' AND lane IS NOT NULL GROUP BY lane),
ready AS (SELECT seq, priority, run_at, queue, lane, lane_limit, rate_key, rate_limit,
                 rate_window_s, rate_fixed FROM underway_jobs
          INDEXED BY underway_jobs_ready_laned
          WHERE state IN ('pending', 'scheduled') AND run_at <= ?1 AND queue IN (QUEUES)
            AND (lane IS NOT NULL OR rate_key IS NOT NULL)
            AND (?2 IS NULL OR name IN (SELECT value FROM json_each(?2)))
          ORDER BY priority DESC, run_at, seq LIMIT ?3),
started AS (SELECT key, count(*) AS n FROM underway_rate_starts
            WHERE key IN (SELECT rate_key FROM ready) AND expires_at > ?1 GROUP BY key),
open AS (SELECT ready.*, ready.lane_limit - coalesce(running.n, 0) AS lane_free,
                ready.rate_limit - coalesce(started.n, 0) AS rate_free
         FROM ready LEFT JOIN running ON running.lane = ready.lane
         LEFT JOIN started ON started.key = ready.rate_key
         WHERE (ready.lane IS NULL OR ready.lane_limit - coalesce(running.n, 0) > 0)
           AND (ready.rate_key IS NULL OR ready.rate_limit - coalesce(started.n, 0) > 0)),
ranked AS (SELECT open.*,
                  row_number() OVER (PARTITION BY lane ORDER BY priority DESC, run_at, seq)
                      AS lane_rank,
                  row_number() OVER (PARTITION BY rate_key ORDER BY priority DESC, run_at, seq)
                      AS rate_rank
           FROM open)
SELECT seq, priority, run_at, queue, lane, lane_free, rate_key, rate_free, rate_window_s,
    rate_fixed FROM ranked
WHERE (lane IS NULL OR lane_rank <= lane_free) AND (rate_key IS NULL OR rate_rank <= rate_free)
ORDER BY priority DESC, run_at, seq LIMIT ?4
"""
#: The first limited job the first scan left out, if any (with no offset: the first of all).
FIRST_UNSCANNED = """
SELECT priority, run_at, seq FROM underway_jobs INDEXED BY underway_jobs_ready_laned
WHERE state IN ('pending', 'scheduled') AND run_at <= ?1 AND queue IN (QUEUES)
  AND (lane IS NOT NULL OR rate_key IS NOT NULL)
  AND (?2 IS NULL OR name IN (SELECT value FROM json_each(?2)))
ORDER BY priority DESC, run_at, seq LIMIT 1 OFFSET ?3
"""
START_CHOSEN = """
UPDATE underway_jobs SET state = 'running', attempt = attempt + 1, worker_id = ?,
    started_at = ?, heartbeat_at = ?, progress = 0, message = NULL
WHERE seq IN (CHOSEN)
RETURNING seq, id, name, args, attempt, max_attempts
"""
RECORD_START = "INSERT INTO underway_rate_starts (key, expires_at) VALUES (?, ?)"


def claim(
    conn: sqlite3.Connection,
    worker_id: str,
    queues: list[str],
    limit: int,
    now: float,
    names: list[str] | None = None,
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running (of these `names` only, if given), in claim
    order, each within its queue's, lane's and rate key's limits (one write transaction:
    SQLite's writers take turns, so the claim needs no lock of its own)."""
    of = None if names is None else json.dumps(names)
    controls = conn.execute(listing(QUEUE_CONTROLS, "QUEUES", len(queues)), (now, *queues))
    controlled = controls.fetchall()
    room = claiming.queue_room(queues, controlled)
    if not room.open:
        return []
    plain = []
    for queue in room.open:
        most = room.limit_for(queue, limit)
        if of is None:
            plain += conn.execute(FIRST_PLAIN, (queue, now, most)).fetchall()
        else:
            plain += conn.execute(FIRST_PLAIN_OF_NAMES, (queue, now, of, most)).fetchall()
    if len(room.open) > 1:
        plain = sorted(plain, key=claiming.claim_order)[:limit]
    after = claiming.last_if_full(plain, limit)
    limited = _limited_candidates(conn, list(room.open), limit, now, of, after)
    chosen = claiming.choose(plain, limited, limit, room)
    if not chosen:
        return []
    seqs = [row["seq"] for row in chosen]
    started = listing(START_CHOSEN, "CHOSEN", len(seqs))
    rows = conn.execute(started, (worker_id, now, now, *seqs)).fetchall()
    starts = (
        claiming.rate_starts(chosen, claiming.queue_rates(controlled), now)
        if limited or controlled
        else []
    )
    if starts:
        conn.executemany(RECORD_START, [(start.key, start.expires_at) for start in starts])
    order = {seq: i for i, seq in enumerate(seqs)}
    return [
        claimed_from_row(row, json_text_to_data)
        for row in sorted(rows, key=lambda r: order[r["seq"]])
    ]


def _limited_candidates(
    conn: sqlite3.Connection,
    queues: list[str],
    limit: int,
    now: float,
    of: str | None,
    after: object,
) -> list[sqlite3.Row]:
    """The first ready jobs whose lane and rate key have room; none read at all when no ready
    job has a lane or a rate key (most claims: the ranking is the claim's dearest read)."""
    first_unscanned = listing(FIRST_UNSCANNED, "QUEUES", len(queues), first=4)
    if conn.execute(first_unscanned, (now, of, 0, *queues)).fetchone() is None:
        return []
    ranked = listing(RANKED_LIMITED, "QUEUES", len(queues), first=5)
    found = conn.execute(ranked, (now, of, claiming.LANE_SCAN, limit, *queues)).fetchall()
    if len(found) >= limit:
        return found
    unscanned = conn.execute(first_unscanned, (now, of, claiming.LANE_SCAN, *queues)).fetchone()
    if not claiming.rank_whole_backlog(found, limit, unscanned, after):
        return found
    return conn.execute(ranked, (now, of, -1, limit, *queues)).fetchall()


def listing(statement: str, name: str, count: int, first: int | None = None) -> str:
    """`statement` with `count` parameters where it names the list `name`: SQLite binds no
    arrays, so a list of values takes one `?` each (numbered from `first` in a statement
    whose other parameters are numbered)."""
    if first is None:
        return statement.replace(name, ",".join("?" * count))
    return statement.replace(name, ",".join(f"?{first + i}" for i in range(count)))
