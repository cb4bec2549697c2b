"""PostgreSQL's claim of rate-limited and laned jobs in one statement (migration 0021's
function `claim_limited`): the lane lock, the reads, the counts, the fitting, the rate starts
and the claim itself. It fits jobs as `claiming.choose` does when no job has both a lane and
a rate key and no served queue has a limit; otherwise, or when it could not look far enough,
it says so and the ranked claim (`claim.claim`) takes over."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ...models import ClaimedJob
from .. import claiming
from . import reads
from .claim_lock import ClaimMemory
from .connection import PostgresPool

#: The claim, migration 0021's function `claim_limited`: the lock, the release of parked
#: jobs and the claim, in one statement that commits on its own. Rows: the claimed jobs
#: (`kind` 'job'), each key found full with its next start ('held'), and one 'verdict' (its
#: `rate_next`: when the first parked job comes back).
CLAIM = """
SELECT * FROM {schema}.claim_limited(%(schema)s, %(worker)s, %(queues)s::text[], %(limit)s::int,
    %(size)s::int, %(held)b::text[], %(park_from)s::float8, %(dispatch)s::float8,
    %(share)s::float8)
AS c(kind, id, name, args, attempt, max_attempts, dependency_rule, workflow_id, awaited, seq,
     priority, run_at, queue, trace_context, rate_key, rate_next, walk, partial, saw_limited)
"""


@dataclass(frozen=True, slots=True)
class LimitedClaim:
    """What the one-round-trip claim did: the jobs it claimed, and whether the ranked claim
    must go on (`walk`: it claimed nothing and must decide; `partial`: it may find more)."""

    claimed: list[ClaimedJob]
    walk: bool
    partial: bool


def claim_params(
    schema: str, worker_id: str, queues: list[str], limit: int, held: list[str]
) -> dict[str, Any]:
    """CLAIM's parameters: the first read takes `claiming.FIRST_READ_MIN` jobs at least, and
    leaves out the jobs of the `held` keys."""
    return {
        "schema": schema,
        "worker": worker_id,
        "queues": queues,
        "limit": limit,
        "size": max(claiming.FIRST_READ_MIN, limit),
        "held": held,
        "park_from": claiming.PARK_FROM_S,
        "dispatch": claiming.DISPATCH_S,
        "share": claiming.DISPATCH_SHARE,
    }


async def claim_limited(
    pool: PostgresPool, memory: ClaimMemory, worker_id: str, queues: list[str], limit: int
) -> LimitedClaim:
    """Claim up to `limit` ready jobs, limited ones among them, in one round trip."""
    # Held keys are pruned by this host's clock: the database's is not read yet.
    held = sorted(memory.held.briefly(time.time()))
    rows = await pool.statement(
        lambda tx: tx.rows(CLAIM, claim_params(tx.schema, worker_id, queues, limit, held))
    )
    jobs = [row for row in rows if row["kind"] == "job"]
    verdict = next(row for row in rows if row["kind"] == "verdict")
    for row in rows:
        if row["kind"] == "held":
            memory.held.hold(row["rate_key"], row["rate_next"])
    memory.held.parked_next = verdict["rate_next"]
    memory.limited = bool(verdict["saw_limited"])
    memory.note_awaited(jobs)
    claimed = [reads.claimed(row) for row in sorted(jobs, key=claiming.claim_order)]
    return LimitedClaim(claimed, bool(verdict["walk"]), bool(verdict["partial"]))
