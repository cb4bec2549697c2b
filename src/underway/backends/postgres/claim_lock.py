"""What every PostgreSQL claim of limited jobs starts with: the lock that serialises them,
with the time, and the release of parked jobs that are due back; and what a backend's claims
remember between them. Migration 0021's function `claim_limited` takes the same lock (a test
holds one and sees the other wait) and releases parked jobs the same way."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .. import claiming

#: Serialises limited claims, so that the counts of lanes, rate keys and queues cannot be
#: overtaken by a concurrent claimer; with the time once the lock is held, which the claim
#: stamps its rate starts with, and this claim's plans (generic, or for the values of
#: `plans`). OFFSET 0 keeps the lock a step of its own, taken before the time is read. The
#: statements after it count live starts as of the transaction's start, now(), which is
#: earlier: a start that left its window while the claim waited still counts (never one
#: too many).
LOCK_AND_NOW = """
SELECT extract(epoch FROM clock_timestamp())::float8 AS now,
    set_config('enable_bitmapscan', 'off', true), set_config('jit', 'off', true),
    set_config('plan_cache_mode', %(plans)s, true)
FROM (SELECT pg_advisory_xact_lock(hashtextextended('underway:lanes:' || %(schema)s, 0))
      OFFSET 0) AS locked
"""
#: The most parked jobs one claim brings back.
RELEASED_MOST = 10_000
#: Parked jobs whose key may start again go back where claims read them, RELEASED_MOST at
#: most; `n`: how many, and `next`: when the first of the others comes back (epoch seconds;
#: NULL: none is parked).
RELEASE_PARKED = f"""
WITH released AS (UPDATE {{schema}}.jobs SET held_until = NULL
                  WHERE id = ANY(ARRAY(SELECT id FROM {{schema}}.jobs WHERE held_until <= now()
                                       ORDER BY held_until LIMIT {RELEASED_MOST}))
                    AND (SELECT min(held_until) FROM {{schema}}.jobs) <= now()
                  RETURNING 1)
SELECT count(*) AS n,
    (SELECT extract(epoch FROM min(held_until))::float8 FROM {{schema}}.jobs
     WHERE held_until > now()) AS next
FROM released
"""

#: Parks every waiting job of the keys that `KEYS` names (rows `p` of rate_key, until), each
#: until the earliest its key could start it (`claiming.parked_until`). Each key's part of
#: their index is read apart: OFFSET 0 keeps the planner from joining the keys to the whole
#: index instead, which it does with no statistics. Migration 0021's function `claim_limited`
#: holds this statement written out (its `parked` step): a change to it here needs a
#: migration that replaces that function too.
PARK_KEYS_OF = """
UPDATE {schema}.jobs AS j
SET held_until = to_timestamp(w.until + w.window_s * ((w.position - 1) / w.per_window))
FROM (SELECT k.id, p.until, k.window_s, k.per_window, k.position FROM KEYS,
      LATERAL (SELECT id, min(rate_window_s) OVER () AS window_s,
                      max(rate_limit) OVER () AS per_window,
                      CASE WHEN run_at <= now()
                           THEN row_number() OVER (PARTITION BY run_at <= now()
                                                   ORDER BY priority DESC, run_at, seq)
                           ELSE 1 END AS position
               FROM {schema}.jobs WHERE rate_key = p.rate_key
               AND state IN ('pending', 'scheduled') AND held_until IS NULL OFFSET 0) AS k) AS w
WHERE j.id = w.id"""


#: Claimed jobs known awaited are forgotten past this many (a lease given up unfinished
#: leaves its id behind): the set is a hint, which only saves a finish a statement.
AWAITED_REMEMBERED = 100_000


@dataclass
class ClaimMemory:
    """What a backend's claims remember between them: the rate keys known held; whether the
    last claim met limits (then the next skips the one-statement claim of plain jobs, which
    would only say so again); whether it had to be ranked (a served queue has a limit, or a
    job has both a lane and a rate key: then the next is ranked at once); and which claimed
    jobs others wait on (their finish goes straight to the statement that settles them)."""

    held: claiming.HeldKeys = field(default_factory=claiming.HeldKeys)
    limited: bool = False
    ranked: bool = False
    awaited: set[str] = field(default_factory=set)

    def note_awaited(self, claimed: list[dict[str, Any]]) -> None:
        """Remember which of these claimed rows others wait on."""
        if len(self.awaited) > AWAITED_REMEMBERED:
            self.awaited.clear()
        self.awaited.update(row["id"] for row in claimed if row["awaited"])

    def note_parked(self, released: int, parked_next: float | None, now: float) -> None:
        """What a release of parked jobs said: a release cut short leaves some due now."""
        self.held.parked_next = now if released >= RELEASED_MOST else parked_next

    def next_slot_in(self) -> float | None:
        """Seconds until the first held key may start again, by this host's clock."""
        return self.held.next_in(time.time())
