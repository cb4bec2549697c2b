"""Claiming ready jobs on PostgreSQL: the order and the lane ranking are policy's; the
statements here read the candidates and mark the chosen ones running."""

from __future__ import annotations

from typing import Any

from ...models import ClaimedJob
from .. import policy
from . import reads
from .connection import PostgresPool
from .tx import Row, Tx

#: PostgreSQL only (a SQLite claim is one local transaction anyway): the claim in one
#: statement while no laned job is ready (it claims nothing otherwise), each queue's first
#: plain jobs walking its part of the ready index. It answers at least one row:
#: `laned_waiting`, with the claimed job's columns (or NULLs). `= ANY(ARRAY(...))`, not a
#: join: a generic plan, not knowing the LIMIT, would hash every waiting row to join them.
CLAIM_PLAIN = """
WITH laned AS (SELECT EXISTS (SELECT 1 FROM {schema}.jobs
                              WHERE state IN ('pending', 'scheduled') AND run_at <= now()
                                AND queue = ANY(%(queues)s)
                                AND (lane IS NOT NULL OR rate_key IS NOT NULL)) AS waiting),
chosen AS (SELECT c.id FROM unnest(%(queues)s::text[]) AS q(name),
           LATERAL (SELECT id, seq, priority, run_at FROM {schema}.jobs WHERE queue = q.name
                    AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
                      AND run_at <= now()
                    ORDER BY priority DESC, run_at, seq LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED) AS c
           ORDER BY c.priority DESC, c.run_at, c.seq LIMIT %(limit)s),
claimed AS (UPDATE {schema}.jobs AS j SET state = 'running', attempt = attempt + 1,
                worker_id = %(worker)s, started_at = now(), heartbeat_at = now(), progress = 0,
                message = NULL
            WHERE j.id = ANY(ARRAY(SELECT id FROM chosen))
              AND j.state IN ('pending', 'scheduled') AND NOT (SELECT waiting FROM laned)
            RETURNING j.id, j.name, j.args, j.attempt, j.max_attempts, j.seq, j.priority,
                j.run_at)
SELECT laned.waiting AS laned_waiting, claimed.* FROM laned LEFT JOIN claimed ON true
"""
#: CLAIM_PLAIN for a worker that serves one queue: a generic plan does not know the length of
#: a queue list, so a list made PostgreSQL plan CLAIM_PLAIN anew for every claim.
CLAIM_PLAIN_ONE_QUEUE = """
WITH laned AS (SELECT EXISTS (SELECT 1 FROM {schema}.jobs
                              WHERE state IN ('pending', 'scheduled') AND run_at <= now()
                                AND queue = %(queue)s
                                AND (lane IS NOT NULL OR rate_key IS NOT NULL)) AS waiting),
chosen AS (SELECT id FROM {schema}.jobs WHERE queue = %(queue)s
           AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
             AND run_at <= now()
           ORDER BY priority DESC, run_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED),
claimed AS (UPDATE {schema}.jobs AS j SET state = 'running', attempt = attempt + 1,
                worker_id = %(worker)s, started_at = now(), heartbeat_at = now(), progress = 0,
                message = NULL
            WHERE j.id = ANY(ARRAY(SELECT id FROM chosen))
              AND j.state IN ('pending', 'scheduled') AND NOT (SELECT waiting FROM laned)
            RETURNING j.id, j.name, j.args, j.attempt, j.max_attempts, j.seq, j.priority,
                j.run_at)
SELECT laned.waiting AS laned_waiting, claimed.* FROM laned LEFT JOIN claimed ON true
"""

#: Serialises laned claims, so that lane counts cannot be overtaken by a concurrent claimer.
LANE_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('underway:lanes:' || %s, 0))"
#: Each queue's first `limit` plain jobs (queue first in the ready index, so other queues'
#: backlogs cost nothing), the first `limit` of them. This statement and the two laned ones
#: take `names`: only jobs of these names (NULL: any name; only a drain of some jobs names
#: them, so the one-statement claims above do not).
FIRST_PLAIN = """
SELECT c.id, c.seq, c.priority, c.run_at FROM unnest(%(queues)s::text[]) AS q(name),
LATERAL (SELECT id, seq, priority, run_at FROM {schema}.jobs WHERE queue = q.name
         AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
           AND run_at <= now()
         AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
         ORDER BY priority DESC, run_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) AS c
ORDER BY c.priority DESC, c.run_at, c.seq LIMIT %(limit)s
"""
#: The first ready jobs of lanes with free slots, ranking the first `scan` laned jobs in
#: claim order (NULL: all of them).
RANKED_IN_LANES = """
WITH running AS (SELECT lane, count(*) AS n FROM {schema}.jobs
                 WHERE state = 'running' AND lane IS NOT NULL GROUP BY lane),
ready AS (SELECT id, seq, priority, run_at, lane, lane_limit FROM {schema}.jobs
          WHERE state IN ('pending', 'scheduled') AND run_at <= now()
            AND queue = ANY(%(queues)s) AND (lane IS NOT NULL OR rate_key IS NOT NULL)
            AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
          ORDER BY priority DESC, run_at, seq LIMIT %(scan)s),
ranked AS (SELECT ready.*, row_number() OVER
           (PARTITION BY lane ORDER BY priority DESC, run_at, seq) AS rn FROM ready)
SELECT ranked.id, ranked.seq, ranked.priority, ranked.run_at FROM ranked
LEFT JOIN running ON running.lane = ranked.lane
WHERE ranked.rn <= ranked.lane_limit - coalesce(running.n, 0)
ORDER BY ranked.priority DESC, ranked.run_at, ranked.seq LIMIT %(limit)s
"""
#: The first laned job the first scan left out, if any.
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


async def claim_ready(
    pool: PostgresPool, worker_id: str, queues: list[str], limit: int, names: list[str] | None
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running: most claims find no laned job ready and name no
    jobs, and take one statement with no transaction block; the others, the ranked claim."""
    if names is None:
        claimed, laned_waiting = await pool.statement(
            lambda tx: claim_plain(tx, worker_id, queues, limit)
        )
        if not laned_waiting:
            return claimed
    return await pool.transaction(lambda tx: claim(tx, worker_id, queues, limit, names))


async def claim_plain(
    tx: Tx, worker_id: str, queues: list[str], limit: int
) -> tuple[list[ClaimedJob], bool]:
    """The common claim as one statement (one round trip, no transaction block needed).

    It claims only while no laned job is ready, so that lanes and priorities are never
    overtaken. Returns the claimed jobs, and whether laned jobs wait (then use `claim`).
    """
    if len(queues) == 1:
        one = {"worker": worker_id, "queue": queues[0], "limit": limit}
        rows = await tx.rows(CLAIM_PLAIN_ONE_QUEUE, one)
    else:
        rows = await tx.rows(CLAIM_PLAIN, {"worker": worker_id, "queues": queues, "limit": limit})
    laned_waiting = bool(rows and rows[0]["laned_waiting"])
    return _in_claim_order([row for row in rows if row["seq"] is not None]), laned_waiting


async def claim(
    tx: Tx, worker_id: str, queues: list[str], limit: int, names: list[str] | None = None
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running (of these `names` only, if given), in claim
    order, lanes within their limits: the ranked claim, for when laned jobs are ready
    (`claim_plain` said so) or only some jobs are claimed."""
    params = {"worker": worker_id, "queues": queues, "limit": limit, "names": names}
    plain = await tx.rows(FIRST_PLAIN, params)
    laned = await _laned_candidates(tx, params, policy.last_if_full(plain, limit))
    chosen = policy.choose(plain, laned, limit)
    if not chosen:
        return []
    rows = await tx.rows(START_CHOSEN, {**params, "ids": [row["id"] for row in chosen]})
    return _in_claim_order(rows)


async def _laned_candidates(tx: Tx, params: dict[str, Any], after: Any) -> list[Row]:
    """The first ready jobs of lanes with free slots, under the lane lock."""
    await tx.run(LANE_LOCK, (tx.schema,))
    first_scan = {**params, "scan": policy.LANE_SCAN}
    found = await tx.rows(RANKED_IN_LANES, first_scan)
    if len(found) >= params["limit"]:
        return found
    unscanned = await tx.row(FIRST_UNSCANNED, first_scan)
    if not policy.rank_whole_backlog(found, params["limit"], unscanned, after):
        return found
    return await tx.rows(RANKED_IN_LANES, {**params, "scan": None})


def _in_claim_order(rows: list[Row]) -> list[ClaimedJob]:
    return [reads.claimed(row) for row in sorted(rows, key=policy.claim_order)]
