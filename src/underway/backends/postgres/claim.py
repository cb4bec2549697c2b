"""Claiming ready jobs on PostgreSQL: the order, the ranking and the limits are `claiming`'s;
the statements here read the candidates and the counts, mark the chosen ones running and
record their rate starts."""

from __future__ import annotations

import time
from typing import Any

from ...models import ClaimedJob
from .. import claiming
from . import limited_claim, rate_keys, reads
from .claim_lock import LOCK_AND_NOW, PARK_KEYS_OF, RELEASE_PARKED, ClaimMemory
from .connection import PostgresPool
from .tx import Row, Tx

#: PostgreSQL only (a SQLite claim is one local transaction anyway): the claim in one
#: statement while nothing limits it (it claims nothing otherwise): no ready job with a lane
#: or a rate key (parked ones aside, unless due back), and no served queue with a concurrency
#: or rate limit. Paused queues are
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
                          AND (lane IS NOT NULL OR rate_key IS NOT NULL)
                          AND held_until IS NULL)
                OR coalesce((SELECT min(held_until) FROM {schema}.jobs) <= now(), false)
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
            RETURNING j.id, j.name, j.args, j.attempt, j.max_attempts, j.dependency_rule,
                j.workflow_id, j.awaited, j.seq, j.priority, j.run_at, j.queue, j.trace_context)
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
                               AND (lane IS NOT NULL OR rate_key IS NOT NULL)
                               AND held_until IS NULL)
                     OR coalesce((SELECT min(held_until) FROM {schema}.jobs) <= now(), false)
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
            RETURNING j.id, j.name, j.args, j.attempt, j.max_attempts, j.dependency_rule,
                j.workflow_id, j.awaited, j.seq, j.priority, j.run_at, j.queue, j.trace_context)
SELECT held.limited, claimed.* FROM held LEFT JOIN claimed ON true
"""

#: Reads that leave out more full keys and lanes than this are planned for their values:
#: only a custom plan compares a row's key with a hash of the list, not with each item.
HASHED_FROM = 8
CUSTOM = "force_custom_plan"
GENERIC = "force_generic_plan"
#: The connection's plans are generic (see connection.py), for the rest of this claim not.
CUSTOM_PLANS = f"SELECT set_config('plan_cache_mode', '{CUSTOM}', true)"
#: The served queues an operator paused or that declare limits, with their running jobs and
#: their live rate starts counted.
QUEUE_CONTROLS = (
    """
SELECT q.name, q.paused, q.concurrency, q.rate_limit, q.rate_window_s, q.rate_fixed,
    (SELECT count(*) FROM {schema}.jobs WHERE state = 'running' AND queue = q.name) AS running,
    """
    + rate_keys.count_live("'queue:' || q.name")
    + """ AS started
FROM {schema}.queues AS q
WHERE q.name = ANY(%(queues)s)
  AND (q.paused OR q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL)
"""
)
#: Each unpaused queue's first `limit` plain jobs, in claim order (queue first in the ready
#: index, so other queues' backlogs cost nothing); the claim leaves out the queues it finds
#: at a limit, so one queue's jobs must not crowd the others' out here. This statement and
#: the limited reads take `names`: only jobs of these names (NULL: any name; only a drain
#: of some jobs names them, so the one-statement claims above do not).
FIRST_PLAIN = """
SELECT c.id, c.seq, c.priority, c.run_at, c.queue FROM unnest(%(queues)s::text[]) AS q(name),
LATERAL (SELECT id, seq, priority, run_at, queue FROM {schema}.jobs WHERE queue = q.name
         AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
         AND run_at <= now() AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
         ORDER BY priority DESC, run_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) AS c
WHERE NOT EXISTS (SELECT 1 FROM {schema}.queues WHERE name = q.name AND paused)
ORDER BY c.priority DESC, c.run_at, c.seq
"""
#: Ready jobs with a lane or a rate key, in claim order, but those of full keys and lanes.
_LIMITED_READY = """
(SELECT id, seq, priority, run_at, queue, lane, lane_limit, rate_key, rate_limit,
        rate_window_s, rate_fixed FROM {schema}.jobs
 WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
   AND held_until IS NULL AND run_at <= now() AND queue = ANY(%(queues)s) POSITION
   AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
   AND (rate_key IS NULL OR rate_key <> ALL(%(full_keys)b::text[]))
   AND (lane IS NULL OR lane <> ALL(%(full_lanes)b::text[]))
 ORDER BY priority DESC, run_at, seq LIMIT %(size)s)
"""
#: One read of `claiming.LimitedWalk`: `READY`'s jobs with the room their lane and key had
#: (running jobs and live starts counted for these lanes and keys only), and when the key's
#: earliest live start expires.
_READ_LIMITED = (
    """
SELECT id, seq, priority, run_at, queue, lane, rate_key, rate_window_s, rate_fixed,
    lane_limit - (SELECT count(*) FROM {schema}.jobs AS r
                  WHERE r.state = 'running' AND r.lane = ready.lane) AS lane_free,
    rate_limit - """
    + rate_keys.count_live("ready.rate_key")
    + """ AS rate_free,
    """
    + rate_keys.next_expiry("ready.rate_key")
    + """ AS rate_next
FROM (READY) AS ready
ORDER BY priority DESC, run_at, seq
"""
)
READ_LIMITED_FIRST = _READ_LIMITED.replace("READY", _LIMITED_READY.replace("POSITION", ""))
#: After a cursor: the rest of its priority, then the lower ones (two index ranges, where
#: one condition on the three columns would be a filter over the whole index).
READ_LIMITED_AFTER = _READ_LIMITED.replace(
    "READY",
    _LIMITED_READY.replace(
        "POSITION", "AND priority = %(priority)s AND (run_at, seq) > (%(run_at)s, %(seq)s)"
    )
    + " UNION ALL "
    + _LIMITED_READY.replace("POSITION", "AND priority < %(priority)s")
    + " ORDER BY priority DESC, run_at, seq LIMIT %(size)s",
)
#: Park every waiting job of keys that stay full a while, each until its key's next start.
PARK_KEYS = PARK_KEYS_OF.replace(
    "KEYS", "unnest(%(keys)b::text[], %(untils)b::float8[]) AS p(rate_key, until)"
)
#: Mark the chosen jobs running, and record the starts they add to rate keys and queues;
#: a job's start is the time its rate starts are counted at.
START_CHOSEN = (
    "WITH recorded AS ("
    + rate_keys.record(
        "SELECT key, to_timestamp(expires_at) "
        "FROM unnest(%(keys)b::text[], %(expiries)b::float8[]) AS s(key, expires_at)"
    )
    + """)
UPDATE {schema}.jobs SET state = 'running', attempt = attempt + 1, worker_id = %(worker)s,
    started_at = to_timestamp(%(now)s), heartbeat_at = now(), progress = 0, message = NULL
WHERE id = ANY(%(ids)b::text[]) AND state IN ('pending', 'scheduled')
RETURNING id, name, args, attempt, max_attempts, dependency_rule, workflow_id, awaited, seq,
    priority, run_at, queue, trace_context
"""
)


async def claim_ready(
    pool: PostgresPool,
    memory: ClaimMemory,
    worker_id: str,
    queues: list[str],
    limit: int,
    names: list[str] | None,
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running: most claims find nothing limiting them and name
    no jobs, and take one statement with no transaction block; most others, the limited
    claim's one round trip; the rest, the ranked claim."""
    if names is None and not memory.limited:
        claimed, limited = await pool.statement(
            lambda tx: claim_plain(tx, worker_id, queues, limit, memory)
        )
        if not limited:
            memory.held.none_parked_due(time.time())
            return claimed
    taken: list[ClaimedJob] = []
    if names is None and not memory.ranked:
        fast = await limited_claim.claim_limited(pool, memory, worker_id, queues, limit)
        if not (fast.walk or fast.partial):
            return fast.claimed
        taken, limit = fast.claimed, limit - len(fast.claimed)
    ranked = await pool.pipelined(lambda tx: claim(tx, worker_id, queues, limit, names, memory))
    return taken + ranked


async def claim_plain(
    tx: Tx, worker_id: str, queues: list[str], limit: int, memory: ClaimMemory | None = None
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
    return _in_claim_order([row for row in rows if row["seq"] is not None], memory), limited


async def claim(
    tx: Tx,
    worker_id: str,
    queues: list[str],
    limit: int,
    names: list[str] | None = None,
    memory: ClaimMemory | None = None,
) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running (of these `names` only, if given), in claim
    order, each within its queue's, lane's and rate key's limits, under the lane lock: the
    ranked claim, for when something limits it (`claim_plain` said so) or only some jobs are
    claimed. The lock, the counts, the plain jobs and the first read of limited ones go in
    one batch; queues found closed are left out of what they read."""
    memory = memory or ClaimMemory()
    # The held keys are pruned by this host's clock: the database's is not read yet.
    walk = claiming.LimitedWalk(limit, None, memory.held, time.time())
    first = walk.next_read()
    assert first is not None
    params = {"queues": queues, "limit": limit, "names": names}
    plans = CUSTOM if _many_left_out(first) else GENERIC
    locked, released, controlled, plain, limited = await tx.batch(
        [
            (LOCK_AND_NOW, {"schema": tx.schema, "plans": plans}),
            (RELEASE_PARKED, None),
            (QUEUE_CONTROLS, params),
            (FIRST_PLAIN, params),
            _limited_statement(first, params),
        ]
    )
    now = locked[0]["now"]
    memory.note_parked(released[0]["n"], released[0]["next"], now)
    room = claiming.queue_room(queues, controlled)
    memory.limited = bool(room.free)
    if not room.open:
        return []
    plain = [row for row in plain if row["queue"] in room.open][:limit]
    walk.serve(room.open, claiming.last_if_full(plain, limit))
    walk.take(limited)
    params["queues"] = list(room.open)
    while (read := walk.next_read()) is not None:
        if plans == GENERIC and _many_left_out(read):
            await tx.run(CUSTOM_PLANS)
            plans = CUSTOM
        walk.take(await tx.rows(*_limited_statement(read, params)))
    memory.limited = memory.limited or walk.saw_limited
    memory.ranked = bool(room.free) or walk.saw_both
    if walk.parked_keys:
        parked = list(walk.parked_keys.items())
        await tx.run(PARK_KEYS, {"keys": [k for k, _ in parked], "untils": [u for _, u in parked]})
    chosen = claiming.choose_walked(plain, walk, limit, room)
    if not chosen:
        return []
    starts = claiming.rate_starts(chosen, claiming.queue_rates(controlled), now)
    started = {
        "worker": worker_id,
        "now": now,
        "ids": [row["id"] for row in chosen],
        "keys": [start.key for start in starts],
        "expiries": [start.expires_at for start in starts],
    }
    return _in_claim_order(await tx.rows(START_CHOSEN, started), memory)


def _many_left_out(read: claiming.LimitedRead) -> bool:
    return len(read.full_keys) + len(read.full_lanes) > HASHED_FROM


def _limited_statement(
    read: claiming.LimitedRead, params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of one read of limited jobs."""
    read_params = {
        **params,
        "size": read.size,
        "full_keys": read.full_keys,
        "full_lanes": read.full_lanes,
    }
    if read.cursor is None:
        return READ_LIMITED_FIRST, read_params
    priority, run_at, seq = read.cursor
    return READ_LIMITED_AFTER, {**read_params, "priority": priority, "run_at": run_at, "seq": seq}


def _in_claim_order(rows: list[Row], memory: ClaimMemory | None) -> list[ClaimedJob]:
    if memory is not None:
        memory.note_awaited(rows)
    return [reads.claimed(row) for row in sorted(rows, key=claiming.claim_order)]
