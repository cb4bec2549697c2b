"""PostgreSQL's claim of rate-limited and laned jobs in one round trip: the lane lock, the
reads, the counts, the fitting, the rate starts and the claim itself, sent together with
their BEGIN and COMMIT. It fits jobs as `claiming.choose` does when no job has both a lane
and a rate key and no served queue has a limit; otherwise, or when it could not look far
enough, it says so and the ranked claim (`claim.claim`) takes over."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ...models import ClaimedJob
from .. import claiming
from . import rate_keys, reads
from .claim_lock import LOCK_AND_NOW, PARK_KEYS_OF, RELEASE_PARKED, ClaimMemory
from .connection import PostgresPool
from .tx import Row, Tx

#: When a start made at `now` stops counting, as `claiming.start_expiry` has it.
START_EXPIRY = """
CASE WHEN NOT c.rate_fixed
     THEN t.now + c.rate_window_s + least(%(dispatch)s, c.rate_window_s * %(share)s)
     ELSE (floor(t.now / c.rate_window_s) + 1) * c.rate_window_s
          + CASE WHEN (floor(t.now / c.rate_window_s) + 1) * c.rate_window_s - t.now
                      < least(%(dispatch)s, c.rate_window_s * %(share)s)
                 THEN c.rate_window_s ELSE 0 END
END"""

#: The claim. `limited`: the first `size` ready jobs with a lane or a rate key in claim order
#: (but parked ones and those of keys known held), each with the room its lane and key had
#: and its rank among the jobs read of its lane and of its key: a job fits if both ranks are
#: within that room. `last`: the last job read when `size` were (later ones were not seen,
#: so no plain job after it may be taken). The claim takes the first `limit` of the fitting
#: and plain jobs, records their starts, and parks every waiting job of the keys it found
#: full for a while. It claims nothing when the ranked claim must decide (`walk`). Rows:
#: the claimed jobs (`kind` 'job'), each key found full with its next start ('held'), and
#: one 'verdict'.
CLAIM_LIMITED = (
    """
WITH t AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
open AS (SELECT q.name FROM unnest(%(queues)s::text[]) AS q(name)
         WHERE NOT EXISTS (SELECT 1 FROM {schema}.queues WHERE name = q.name AND paused)),
limited AS (SELECT id, seq, priority, run_at, lane, lane_limit, rate_key, rate_limit,
                   rate_window_s, rate_fixed FROM {schema}.jobs
            WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
              AND held_until IS NULL AND run_at <= now() AND queue IN (SELECT name FROM open)
              AND (rate_key IS NULL OR rate_key <> ALL(%(held)b::text[]))
            ORDER BY priority DESC, run_at, seq LIMIT %(size)s),
counted AS (SELECT l.*,
    CASE WHEN l.lane IS NOT NULL
         THEN l.lane_limit - (SELECT count(*) FROM {schema}.jobs AS r
                              WHERE r.state = 'running' AND r.lane = l.lane) END AS lane_free,
    l.rate_limit - coalesce(s.started, 0) AS rate_free, s.next AS rate_next,
    row_number() OVER (PARTITION BY l.lane ORDER BY l.priority DESC, l.run_at, l.seq)
        AS lane_rank,
    row_number() OVER (PARTITION BY l.rate_key ORDER BY l.priority DESC, l.run_at, l.seq)
        AS key_rank
    FROM limited AS l
    LEFT JOIN LATERAL (SELECT """
    + rate_keys.LIVE_COUNT
    + " AS started, "
    + rate_keys.NEXT_EXPIRY
    + """ AS next
                       FROM {schema}.rate_keys AS k WHERE k.key = l.rate_key) AS s ON true),
verdict AS (SELECT EXISTS (SELECT 1 FROM {schema}.queues WHERE name IN (SELECT name FROM open)
                           AND (concurrency IS NOT NULL OR rate_limit IS NOT NULL))
                   OR EXISTS (SELECT 1 FROM limited
                              WHERE lane IS NOT NULL AND rate_key IS NOT NULL) AS walk),
last AS (SELECT -priority AS priority, run_at, seq FROM limited
         WHERE (SELECT count(*) FROM limited) >= %(size)s
         ORDER BY priority, run_at DESC, seq DESC LIMIT 1),
plain AS (SELECT c.id, c.seq, c.priority, c.run_at, NULL::text AS rate_key,
                 NULL::float8 AS rate_window_s, NULL::boolean AS rate_fixed
          FROM open AS q,
          LATERAL (SELECT id, seq, priority, run_at FROM {schema}.jobs WHERE queue = q.name
                   AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
                   AND run_at <= now() ORDER BY priority DESC, run_at, seq LIMIT %(limit)s
                   FOR UPDATE SKIP LOCKED) AS c
          WHERE NOT EXISTS (SELECT 1 FROM last)
             OR (-c.priority, c.run_at, c.seq) <= (SELECT priority, run_at, seq FROM last)),
chosen AS (SELECT * FROM (SELECT id, seq, priority, run_at, rate_key, rate_window_s, rate_fixed
                          FROM counted
                          WHERE (lane IS NULL OR lane_rank <= lane_free)
                            AND (rate_key IS NULL OR key_rank <= rate_free)
                          UNION ALL SELECT * FROM plain) AS fitting
           WHERE NOT (SELECT walk FROM verdict)
           ORDER BY priority DESC, run_at, seq LIMIT %(limit)s),
recorded AS ("""
    + rate_keys.record(
        "SELECT c.rate_key, to_timestamp(" + START_EXPIRY + ") FROM chosen AS c, t "
        "WHERE c.rate_key IS NOT NULL"
    )
    + """),
parking AS (SELECT c.rate_key, min(c.rate_next) AS until FROM counted AS c, t
            WHERE c.rate_free <= 0 AND c.rate_next >= t.now + %(park_from)s
            GROUP BY c.rate_key),
parked AS ("""
    + PARK_KEYS_OF.replace("KEYS", "parking AS p")
    + """ AND NOT (SELECT walk FROM verdict)),
claimed AS (UPDATE {schema}.jobs SET state = 'running', attempt = attempt + 1,
                worker_id = %(worker)s, started_at = to_timestamp((SELECT now FROM t)),
                heartbeat_at = now(), progress = 0, message = NULL
            WHERE id = ANY(ARRAY(SELECT id FROM chosen)) AND state IN ('pending', 'scheduled')
            RETURNING id, name, args, attempt, max_attempts, dependency_rule, workflow_id,
                awaited, seq, priority, run_at, queue, trace_context)
SELECT 'job' AS kind, claimed.*, NULL::text AS rate_key, NULL::float8 AS rate_next,
    NULL::boolean AS walk, NULL::boolean AS partial, NULL::boolean AS saw_limited
FROM claimed
UNION ALL
SELECT 'held', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    rate_key,
    min(rate_next),
    NULL, NULL, NULL
FROM counted WHERE rate_free <= 0 AND rate_next IS NOT NULL GROUP BY rate_key
UNION ALL
SELECT 'verdict', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL,
    (SELECT walk FROM verdict),
    (SELECT count(*) FROM chosen) < %(limit)s AND EXISTS (SELECT 1 FROM last),
    EXISTS (SELECT 1 FROM limited) OR cardinality(%(held)b::text[]) > 0
"""
)


@dataclass(frozen=True, slots=True)
class LimitedClaim:
    """What the one-round-trip claim did: the jobs it claimed, and whether the ranked claim
    must go on (`walk`: it claimed nothing and must decide; `partial`: it may find more)."""

    claimed: list[ClaimedJob]
    walk: bool
    partial: bool


async def claim_limited(
    pool: PostgresPool, memory: ClaimMemory, worker_id: str, queues: list[str], limit: int
) -> LimitedClaim:
    """Claim up to `limit` ready jobs, limited ones among them, in one round trip."""
    # Held keys are pruned by this host's clock: the database's is not read yet.
    now = time.time()
    params = {
        "worker": worker_id,
        "queues": queues,
        "limit": limit,
        "size": max(claiming.FIRST_READ_MIN, limit),
        "held": sorted(memory.held.briefly(now)),
        "park_from": claiming.PARK_FROM_S,
        "dispatch": claiming.DISPATCH_S,
        "share": claiming.DISPATCH_SHARE,
    }

    async def send(tx: Tx) -> list[Row]:
        _, _, _, rows, _ = await tx.batch(
            [
                ("BEGIN", None),
                (LOCK_AND_NOW, {"schema": tx.schema, "plans": "force_generic_plan"}),
                (RELEASE_PARKED, None),
                (CLAIM_LIMITED, params),
                ("COMMIT", None),
            ]
        )
        return rows

    rows = await pool.sent_together(send)
    jobs = [row for row in rows if row["kind"] == "job"]
    verdict = next(row for row in rows if row["kind"] == "verdict")
    for row in rows:
        if row["kind"] == "held":
            memory.held.hold(row["rate_key"], row["rate_next"])
    memory.limited = bool(verdict["saw_limited"])
    memory.note_awaited(jobs)
    claimed = [reads.claimed(row) for row in sorted(jobs, key=claiming.claim_order)]
    return LimitedClaim(claimed, bool(verdict["walk"]), bool(verdict["partial"]))
