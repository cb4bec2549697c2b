"""Claiming ready jobs on SQLite: the order, the ranking and the limits are `claiming`'s; the
statements here read the candidates and the counts, mark the chosen ones running and record
their rate starts (`limited_claim` first tries a claim in one statement).
INDEXED BY: without statistics the planner would pick the state index and sort every pending
row."""

from __future__ import annotations

import json
import sqlite3

from ...models import ClaimedJob
from .. import claiming
from . import limited_claim, rate_starts
from .claimed_rows import claimed, in_claim_order
from .listing import listing

#: The served queues an operator paused or that declare limits, with their running jobs and
#: their live rate starts counted (most queues have no row: the statement finds nothing).
#: Running jobs are counted from the index of leases, which holds only running jobs: an
#: index of them per queue would cost every claim and finish a write.
QUEUE_CONTROLS = """
SELECT q.name, q.paused, q.concurrency, q.rate_limit, q.rate_window_s, q.rate_fixed,
    (SELECT count(*) FROM underway_jobs INDEXED BY underway_jobs_running
     WHERE state = 'running' AND queue = q.name) AS running,
    coalesce((SELECT starts FROM underway_rate_keys WHERE key = 'queue:' || q.name), 0)
        AS started
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
#: Ready jobs with a lane or a rate key of the queues in `(QUEUES)`, in claim order, but
#: those of the full keys and lanes (JSON arrays ?3 and ?4); of the names in the JSON array
#: ?2 only (NULL: any name). COLUMNS: what each read returns of them.
_LIMITED_READY = """
SELECT COLUMNS FROM underway_jobs AS ready INDEXED BY underway_jobs_ready_laned
WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
  AND held_until IS NULL AND run_at <= ?1 AND queue IN (QUEUES) POSITION
  AND (?2 IS NULL OR name IN (SELECT value FROM json_each(?2)))
  AND (rate_key IS NULL OR rate_key NOT IN (SELECT value FROM json_each(?3)))
  AND (lane IS NULL OR lane NOT IN (SELECT value FROM json_each(?4)))
ORDER BY priority DESC, run_at, seq LIMIT ?5
"""
#: What one read of `claiming.LimitedWalk` returns of each job: its place, lane and key,
#: the room its lane and key had, and when the key's earliest live start expires.
_ROOM = """seq, priority, run_at, queue, lane, rate_key, rate_window_s, rate_fixed,
    CASE WHEN lane IS NOT NULL THEN lane_limit - (
        SELECT count(*) FROM underway_jobs INDEXED BY underway_jobs_running_lanes
        WHERE state = 'running' AND lane IS NOT NULL AND lane = ready.lane) END AS lane_free,
    rate_limit - coalesce((SELECT starts FROM underway_rate_keys
                           WHERE key = ready.rate_key), 0) AS rate_free,
    (SELECT oldest FROM underway_rate_keys WHERE key = ready.rate_key) AS rate_next"""
#: The first read counts the room of the jobs it returns only, in the statement that walks
#: the index (no second sort of them).
READ_LIMITED_FIRST = _LIMITED_READY.replace("COLUMNS", _ROOM).replace("POSITION", "")
#: After a cursor (?6, ?7, ?8): the rest of its priority, then the lower ones (two index
#: ranges, where one condition on the three columns would be a filter over the index).
_READY_AFTER = """
SELECT * FROM (PART1) UNION ALL SELECT * FROM (PART2) ORDER BY priority DESC, run_at, seq LIMIT ?5
""".replace(
    "PART1", _LIMITED_READY.replace("POSITION", "AND priority = ?6 AND (run_at, seq) > (?7, ?8)")
).replace("PART2", _LIMITED_READY.replace("POSITION", "AND priority < ?6"))
READ_LIMITED_AFTER = (
    f"SELECT {_ROOM} FROM ({_READY_AFTER}) AS ready ORDER BY priority DESC, run_at, seq"
).replace(
    "COLUMNS",
    "seq, priority, run_at, queue, lane, lane_limit, rate_key, rate_limit, rate_window_s, "
    "rate_fixed",
)
#: Whether any job with a lane or a rate key is ready (most claims: none, and no read).
ANY_LIMITED = """
SELECT 1 FROM underway_jobs INDEXED BY underway_jobs_ready_laned
WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
  AND held_until IS NULL AND run_at <= ? AND queue IN (QUEUES)
LIMIT 1
"""
START_CHOSEN = """
UPDATE underway_jobs SET state = 'running', attempt = attempt + 1, worker_id = ?,
    started_at = ?, heartbeat_at = ?, progress = 0, message = NULL
WHERE seq IN (CHOSEN)
RETURNING seq, id, name, args, attempt, max_attempts, dependency_rule,
    workflow_id, queue, run_at, trace_context
"""
#: START_CHOSEN of one queue's first `limit` plain jobs, chosen in the same statement (the
#: claim when nothing limits it): their claim order and what a worker needs of them (their
#: queue is the one claimed from).
CLAIM_PLAIN = """
UPDATE underway_jobs SET state = 'running', attempt = attempt + 1, worker_id = ?,
    started_at = ?, heartbeat_at = ?, progress = 0, message = NULL
WHERE seq IN (SELECT seq FROM underway_jobs INDEXED BY underway_jobs_ready
              WHERE queue = ? AND state IN ('pending', 'scheduled') AND lane IS NULL
                AND rate_key IS NULL AND run_at <= ?
              ORDER BY priority DESC, run_at, seq LIMIT ?)
RETURNING priority, run_at, seq, id, name, args, attempt, max_attempts, dependency_rule,
    workflow_id, trace_context
"""
#: Whether a plain job is due in the queues (QUEUES), but paused ones and those with limits,
#: of the names in the JSON array ? (NULL: any name).
PLAIN_DUE = """
SELECT 1 FROM underway_jobs INDEXED BY underway_jobs_ready
WHERE queue IN (QUEUES) AND state IN ('pending', 'scheduled') AND lane IS NULL
  AND rate_key IS NULL AND run_at <= ? AND (? IS NULL OR name IN (SELECT value FROM json_each(?)))
  AND queue NOT IN (SELECT name FROM underway_queues
                    WHERE paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL)
LIMIT 1
"""
#: Parked jobs whose key may start again go back where claims read them.
RELEASE_PARKED = """
UPDATE underway_jobs INDEXED BY underway_jobs_held SET held_until = NULL
WHERE held_until IS NOT NULL AND held_until <= ?
"""
#: When the first parked job comes back (NULL: none is parked); most claims find none due,
#: and write nothing.
NEXT_PARKED = """
SELECT min(held_until) FROM underway_jobs INDEXED BY underway_jobs_held
WHERE held_until IS NOT NULL
"""
#: Park every waiting job of the keys in `temp.underway_parking` (key, until), read or not,
#: each until the earliest its key could start it (`claiming.parked_until`; ?1: now): the
#: laned ready index carries the rate key, so one pass over it finds them. The keys go in a
#: table with a primary key of this connection's own (temp), so that each job finds its
#: key's time by a lookup, where a JSON argument is read again for each job.
PARKING = """
CREATE TEMP TABLE IF NOT EXISTS underway_parking (rate_key TEXT PRIMARY KEY, until REAL)
WITHOUT ROWID
"""
PARKING_KEY = "INSERT INTO temp.underway_parking (rate_key, until) VALUES (?, ?)"
PARK_KEYS = """
UPDATE underway_jobs SET held_until = parking.until
    + parking.window_s * ((parking.position - 1) / parking.per_window)
FROM (SELECT j.seq, p.until,
             min(j.rate_window_s) OVER by_key AS window_s,
             max(j.rate_limit) OVER by_key AS per_window,
             CASE WHEN j.run_at <= ?1
                  THEN row_number() OVER (PARTITION BY j.rate_key, j.run_at <= ?1
                                          ORDER BY j.priority DESC, j.run_at, j.seq)
                  ELSE 1 END AS position
      FROM underway_jobs AS j INDEXED BY underway_jobs_ready_laned
      JOIN temp.underway_parking AS p ON p.rate_key = j.rate_key
      WHERE j.state IN ('pending', 'scheduled') AND (j.lane IS NOT NULL OR j.rate_key IS NOT NULL)
        AND j.held_until IS NULL
      WINDOW by_key AS (PARTITION BY j.rate_key)) AS parking
WHERE underway_jobs.seq = parking.seq
"""
PARKED = "DELETE FROM temp.underway_parking"


def claim(
    conn: sqlite3.Connection,
    worker_id: str,
    queues: list[str],
    limit: int,
    now: float,
    names: list[str] | None = None,
    held: claiming.HeldKeys | None = None,
    dispatch_s: float = claiming.DISPATCH_S,
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running (of these `names` only, if given), in claim
    order, each within its queue's, lane's and rate key's limits (one write transaction:
    SQLite's writers take turns, so the claim needs no lock of its own)."""
    of = None if names is None else json.dumps(names)
    held = claiming.HeldKeys() if held is None else held
    held.parked_next = _release_parked(conn, now)
    rate_starts.settle(conn, now)
    controls = conn.execute(listing(QUEUE_CONTROLS, "QUEUES", len(queues)), queues)
    controlled = controls.fetchall()
    room = claiming.queue_room(queues, controlled)
    if not room.open:
        return []
    open_queues = list(room.open)
    any_limited = listing(ANY_LIMITED, "QUEUES", len(open_queues))
    limited_ready = conn.execute(any_limited, (now, *open_queues)).fetchone() is not None
    if not room.free and of is None:
        if not limited_ready and len(open_queues) == 1:
            return _claim_plain(conn, worker_id, open_queues[0], limit, now)
        briefly = sorted(held.briefly(now)) if limited_ready else []
        fitting = limited_claim.claim_fitting(
            conn, worker_id, open_queues, limit, now, briefly, dispatch_s
        )
        if fitting or not limited_ready:
            return fitting
    plain = []
    for queue in room.open:
        most = room.limit_for(queue, limit)
        if of is None:
            plain += conn.execute(FIRST_PLAIN, (queue, now, most)).fetchall()
        else:
            plain += conn.execute(FIRST_PLAIN_OF_NAMES, (queue, now, of, most)).fetchall()
    if len(room.open) > 1:
        plain = sorted(plain, key=claiming.claim_order)[:limit]
    walk = claiming.LimitedWalk(limit, claiming.last_if_full(plain, limit), held, now)
    if limited_ready:
        while (read := walk.next_read()) is not None:
            walk.take(_read_limited(conn, read, open_queues, now, of))
    if walk.parked_keys:
        conn.execute(PARKING)
        conn.executemany(PARKING_KEY, walk.parked_keys.items())
        conn.execute(PARK_KEYS, (now,))
        conn.execute(PARKED)
    limited = walk.fitting
    chosen = claiming.choose_walked(plain, walk, limit, room)
    if not chosen:
        return []
    seqs = [row["seq"] for row in chosen]
    started = listing(START_CHOSEN, "CHOSEN", len(seqs))
    cursor = conn.cursor()
    cursor.row_factory = None  # tuples, as the plain claim reads them, not a Row per job
    rows = cursor.execute(started, (worker_id, now, now, *seqs)).fetchall()
    starts = (
        claiming.rate_starts(chosen, claiming.queue_rates(controlled), now, dispatch_s)
        if limited or controlled
        else []
    )
    rate_starts.record(conn, starts)
    order = {seq: i for i, seq in enumerate(seqs)}
    rows.sort(key=lambda row: order[row[0]])
    return [
        claimed(id_, name, args, attempt, most, rule, flow, queue, due, trace)
        for _, id_, name, args, attempt, most, rule, flow, queue, due, trace in rows
    ]


def plain_due(
    conn: sqlite3.Connection, queues: list[str], names: list[str] | None, now: float
) -> bool:
    of = None if names is None else json.dumps(names)
    statement = listing(PLAIN_DUE, "QUEUES", len(queues))
    return conn.execute(statement, (*queues, now, of, of)).fetchone() is not None


def _release_parked(conn: sqlite3.Connection, now: float) -> float | None:
    """Bring back the parked jobs due; when the next one comes back (None: none is parked)."""
    parked_next: float | None = conn.execute(NEXT_PARKED).fetchone()[0]
    if parked_next is not None and parked_next <= now:
        conn.execute(RELEASE_PARKED, (now,))
        parked_next = conn.execute(NEXT_PARKED).fetchone()[0]
    return parked_next


def _claim_plain(
    conn: sqlite3.Connection, worker_id: str, queue: str, limit: int, now: float
) -> list[ClaimedJob]:
    """The claim when nothing limits it: one queue's first plain jobs, marked running by one
    statement."""
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(CLAIM_PLAIN, (worker_id, now, now, queue, now, limit)).fetchall()
    in_claim_order(rows)
    return [
        claimed(id_, name, args, attempt, most, rule, flow, queue, due, trace)
        for _, due, _, id_, name, args, attempt, most, rule, flow, trace in rows
    ]


def _read_limited(
    conn: sqlite3.Connection,
    read: claiming.LimitedRead,
    queues: list[str],
    now: float,
    of: str | None,
) -> list[sqlite3.Row]:
    """One read of limited jobs."""
    full = (json.dumps(read.full_keys), json.dumps(read.full_lanes))
    if read.cursor is None:
        statement = listing(READ_LIMITED_FIRST, "QUEUES", len(queues), first=6)
        return conn.execute(statement, (now, of, *full, read.size, *queues)).fetchall()
    statement = listing(READ_LIMITED_AFTER, "QUEUES", len(queues), first=9)
    params = (now, of, *full, read.size, *read.cursor, *queues)
    return conn.execute(statement, params).fetchall()
