"""Claiming ready jobs on PostgreSQL: the order, the ranking and the limits are `claiming`'s;
the statements here read the candidates and the counts, mark the chosen ones running and
record their rate starts."""

from __future__ import annotations

from typing import Any

from ...models import ClaimedJob
from .. import claiming
from . import reads
from .connection import PostgresPool
from .tx import Row, Tx

#: PostgreSQL only (a SQLite claim is one local transaction anyway): the claim in one
#: statement while nothing limits it (it claims nothing otherwise): no ready job with a lane
#: or a rate key, and no served queue with a concurrency or rate limit. Paused queues are
#: left out here (a pause needs no lock). Each queue's first plain jobs, walking its part of
#: the ready index. It answers at least one row: `limited`, with the claimed job's columns
#: (or NULLs). `= ANY(ARRAY(...))`, not a join: a generic plan, not knowing the LIMIT, would
#: hash every waiting row to join them.
CLAIM_PLAIN = """
WITH open AS (SELECT q.name FROM unnest(%(queues)s::text[]) AS q(name)
              WHERE NOT EXISTS (SELECT 1 FROM {schema}.queues
                                WHERE name = q.name AND paused)),
held AS (SELECT EXISTS (SELECT 1 FROM {schema}.jobs
                        WHERE state IN ('pending', 'scheduled') AND run_at <= now()
                          AND queue IN (SELECT name FROM open)
                          AND (lane IS NOT NULL OR rate_key IS NOT NULL))
                OR EXISTS (SELECT 1 FROM {schema}.queues
                           WHERE name IN (SELECT name FROM open)
                             AND (concurrency IS NOT NULL OR rate_limit IS NOT NULL))
                AS limited),
chosen AS (SELECT c.id FROM open AS q,
           LATERAL (SELECT id, seq, priority, run_at FROM {schema}.jobs WHERE queue = q.name
                    AND state IN ('pending', 'scheduled') AND lane IS NULL
                    AND rate_key IS NULL AND run_at <= now()
                    ORDER BY priority DESC, run_at, seq LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED) AS c
           ORDER BY c.priority DESC, c.run_at, c.seq LIMIT %(limit)s),
claimed AS (UPDATE {schema}.jobs AS j SET state = 'running', attempt = attempt + 1,
                worker_id = %(worker)s, started_at = now(), heartbeat_at = now(), progress = 0,
                message = NULL
            WHERE j.id = ANY(ARRAY(SELECT id FROM chosen))
              AND j.state IN ('pending', 'scheduled') AND NOT (SELECT limited FROM held)
            RETURNING j.id, j.name, j.args, j.attempt, j.max_attempts, j.seq, j.priority,
                j.run_at)
SELECT held.limited, claimed.* FROM held LEFT JOIN claimed ON true
"""
#: CLAIM_PLAIN for a worker that serves one queue: a generic plan does not know the length of
#: a queue list, so a list made PostgreSQL plan CLAIM_PLAIN anew for every claim.
CLAIM_PLAIN_ONE_QUEUE = """
WITH paused AS (SELECT EXISTS (SELECT 1 FROM {schema}.queues
                               WHERE name = %(queue)s AND paused) AS paused),
held AS (SELECT NOT (SELECT paused FROM paused)
                AND (EXISTS (SELECT 1 FROM {schema}.jobs
                             WHERE state IN ('pending', 'scheduled') AND run_at <= now()
                               AND queue = %(queue)s
                               AND (lane IS NOT NULL OR rate_key IS NOT NULL))
                     OR EXISTS (SELECT 1 FROM {schema}.queues WHERE name = %(queue)s
                                AND (concurrency IS NOT NULL OR rate_limit IS NOT NULL)))
                AS limited),
chosen AS (SELECT id FROM {schema}.jobs WHERE queue = %(queue)s
           AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
           AND run_at <= now() AND NOT (SELECT paused FROM paused)
           ORDER BY priority DESC, run_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED),
claimed AS (UPDATE {schema}.jobs AS j SET state = 'running', attempt = attempt + 1,
                worker_id = %(worker)s, started_at = now(), heartbeat_at = now(), progress = 0,
                message = NULL
            WHERE j.id = ANY(ARRAY(SELECT id FROM chosen))
              AND j.state IN ('pending', 'scheduled') AND NOT (SELECT limited FROM held)
            RETURNING j.id, j.name, j.args, j.attempt, j.max_attempts, j.seq, j.priority,
                j.run_at)
SELECT held.limited, claimed.* FROM held LEFT JOIN claimed ON true
"""

#: Serialises limited claims, so that the counts of lanes, rate keys and queues cannot be
#: overtaken by a concurrent claimer.
LANE_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('underway:lanes:' || %s, 0))"
#: The time once the lane lock is held (not the transaction's start, now()): a claim that
#: waited for the lock must not count or stamp rate starts as of before it waited.
NOW = "SELECT extract(epoch FROM clock_timestamp())::float8 AS now"
#: The served queues an operator paused or that declare limits, with their running jobs and
#: their live rate starts counted.
QUEUE_CONTROLS = """
SELECT q.name, q.paused, q.concurrency, q.rate_limit, q.rate_window_s, q.rate_fixed,
    (SELECT count(*) FROM {schema}.jobs WHERE state = 'running' AND queue = q.name) AS running,
    (SELECT count(*) FROM {schema}.rate_starts
     WHERE key = 'queue:' || q.name AND expires_at > to_timestamp(%(now)s)) AS started
FROM {schema}.queues AS q
WHERE q.name = ANY(%(queues)s)
  AND (q.paused OR q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL)
"""
#: Each queue's first `limit` plain jobs (queue first in the ready index, so other queues'
#: backlogs cost nothing), the first `limit` of them. This statement and the two limited
#: ones take `names`: only jobs of these names (NULL: any name; only a drain of some jobs
#: names them, so the one-statement claims above do not).
FIRST_PLAIN = """
SELECT c.id, c.seq, c.priority, c.run_at, c.queue FROM unnest(%(queues)s::text[]) AS q(name),
LATERAL (SELECT id, seq, priority, run_at, queue FROM {schema}.jobs WHERE queue = q.name
         AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
         AND run_at <= now() AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
         ORDER BY priority DESC, run_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) AS c
ORDER BY c.priority DESC, c.run_at, c.seq LIMIT %(limit)s
"""
#: The first ready jobs with a lane or a rate key whose lane and key have room, ranking the
#: first `scan` such jobs in claim order (NULL: all of them): in each lane and each key, only
#: as many as it has room for, after leaving out the jobs whose lane or key is full. With
#: each, the room its lane and key had (`claiming.choose` counts the jobs chosen before it).
RANKED_LIMITED = """
WITH running AS (SELECT lane, count(*) AS n FROM {schema}.jobs
                 WHERE state = 'running' AND lane IS NOT NULL GROUP BY lane),
ready AS (SELECT id, seq, priority, run_at, queue, lane, lane_limit, rate_key, rate_limit,
                 rate_window_s, rate_fixed FROM {schema}.jobs
          WHERE state IN ('pending', 'scheduled') AND run_at <= now()
            AND queue = ANY(%(queues)s) AND (lane IS NOT NULL OR rate_key IS NOT NULL)
            AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
          ORDER BY priority DESC, run_at, seq LIMIT %(scan)s),
started AS (SELECT key, count(*) AS n FROM {schema}.rate_starts
            WHERE key IN (SELECT rate_key FROM ready) AND expires_at > to_timestamp(%(now)s)
            GROUP BY key),
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
SELECT id, seq, priority, run_at, queue, lane, lane_free, rate_key, rate_free, rate_window_s,
    rate_fixed FROM ranked
WHERE (lane IS NULL OR lane_rank <= lane_free) AND (rate_key IS NULL OR rate_rank <= rate_free)
ORDER BY priority DESC, run_at, seq LIMIT %(limit)s
"""
#: The first limited job the first scan left out, if any.
FIRST_UNSCANNED = """
SELECT priority, run_at, seq FROM {schema}.jobs
WHERE state IN ('pending', 'scheduled') AND run_at <= now() AND queue = ANY(%(queues)s)
  AND (lane IS NOT NULL OR rate_key IS NOT NULL)
  AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
ORDER BY priority DESC, run_at, seq LIMIT 1 OFFSET %(scan)s
"""
START_CHOSEN = """
UPDATE {schema}.jobs SET state = 'running', attempt = attempt + 1, worker_id = %(worker)s,
    started_at = now(), heartbeat_at = now(), progress = 0, message = NULL
WHERE id = ANY(%(ids)s) AND state IN ('pending', 'scheduled')
RETURNING id, name, args, attempt, max_attempts, seq, priority, run_at
"""
RECORD_STARTS = """
INSERT INTO {schema}.rate_starts (key, expires_at)
SELECT key, to_timestamp(expires_at) FROM unnest(%(keys)s::text[], %(expiries)s::float8[])
    AS s(key, expires_at)
"""


async def claim_ready(
    pool: PostgresPool, worker_id: str, queues: list[str], limit: int, names: list[str] | None
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running: most claims find nothing limiting them and name
    no jobs, and take one statement with no transaction block; the others, the ranked claim."""
    if names is None:
        claimed, limited = await pool.statement(
            lambda tx: claim_plain(tx, worker_id, queues, limit)
        )
        if not limited:
            return claimed
    return await pool.transaction(lambda tx: claim(tx, worker_id, queues, limit, names))


async def claim_plain(
    tx: Tx, worker_id: str, queues: list[str], limit: int
) -> tuple[list[ClaimedJob], bool]:
    """The common claim as one statement (one round trip, no transaction block needed).

    It claims only while nothing limits it, so that lanes, rate keys, queue limits and
    priorities are never overtaken. Returns the claimed jobs, and whether something limits
    the claim (then use `claim`).
    """
    if len(queues) == 1:
        one = {"worker": worker_id, "queue": queues[0], "limit": limit}
        rows = await tx.rows(CLAIM_PLAIN_ONE_QUEUE, one)
    else:
        rows = await tx.rows(CLAIM_PLAIN, {"worker": worker_id, "queues": queues, "limit": limit})
    limited = bool(rows and rows[0]["limited"])
    return _in_claim_order([row for row in rows if row["seq"] is not None]), limited


async def claim(
    tx: Tx, worker_id: str, queues: list[str], limit: int, names: list[str] | None = None
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running (of these `names` only, if given), in claim
    order, each within its queue's, lane's and rate key's limits, under the lane lock: the
    ranked claim, for when something limits it (`claim_plain` said so) or only some jobs are
    claimed."""
    await tx.run(LANE_LOCK, (tx.schema,))
    now_row = await tx.row(NOW)
    assert now_row is not None
    now = now_row["now"]
    controlled = await tx.rows(QUEUE_CONTROLS, {"queues": queues, "now": now})
    room = claiming.queue_room(queues, controlled)
    if not room.open:
        return []
    open_queues = list(room.open)
    params = {
        "worker": worker_id,
        "queues": open_queues,
        "limit": limit,
        "names": names,
        "now": now,
    }
    plain = await tx.rows(FIRST_PLAIN, params)
    limited = await _limited_candidates(tx, params, claiming.last_if_full(plain, limit))
    chosen = claiming.choose(plain, limited, limit, room)
    if not chosen:
        return []
    rows = await tx.rows(START_CHOSEN, {**params, "ids": [row["id"] for row in chosen]})
    starts = claiming.rate_starts(chosen, claiming.queue_rates(controlled), now)
    if starts:
        keys, expiries = [s.key for s in starts], [s.expires_at for s in starts]
        await tx.run(RECORD_STARTS, {"keys": keys, "expiries": expiries})
    return _in_claim_order(rows)


async def _limited_candidates(tx: Tx, params: dict[str, Any], after: Any) -> list[Row]:
    """The first ready jobs whose lane and rate key have room."""
    first_scan = {**params, "scan": claiming.LANE_SCAN}
    found = await tx.rows(RANKED_LIMITED, first_scan)
    if len(found) >= params["limit"]:
        return found
    unscanned = await tx.row(FIRST_UNSCANNED, first_scan)
    if not claiming.rank_whole_backlog(found, params["limit"], unscanned, after):
        return found
    return await tx.rows(RANKED_LIMITED, {**params, "scan": None})


def _in_claim_order(rows: list[Row]) -> list[ClaimedJob]:
    return [reads.claimed(row) for row in sorted(rows, key=claiming.claim_order)]
