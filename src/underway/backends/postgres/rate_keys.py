"""The starts rate keys count on PostgreSQL: one row per key (table rate_keys) holding the
expiries of its starts, soonest first; a start counts until its expiry (migration 0016).
Kept sorted, the array answers how many starts are live and when the next one expires by a
binary search, width_bucket (the number of expiries at or before now()). Migration 0021's
function `claim_limited` holds these expressions written out: a change to them here needs a
migration that replaces that function too."""

from __future__ import annotations

#: How many expiries of the row `k` are spent (at or before now()).
_SPENT = "width_bucket(now(), k.starts)"
#: The live starts of row `k`, and when the soonest of them expires (epoch seconds).
LIVE_COUNT = f"cardinality(k.starts) - {_SPENT}"
NEXT_EXPIRY = f"extract(epoch FROM k.starts[{_SPENT} + 1])::float8"
#: The row of the key the SQL expression KEY gives.
_ROW_OF = "FROM {schema}.rate_keys AS k WHERE k.key = KEY"
#: Record the starts of the rows STARTS (key, expires_at timestamptz): each key's row drops
#: its spent expiries and gains the new ones. They are later than the kept ones but when a
#: key's window changed, or clocks disagree: then the row is sorted again. (A claim takes
#: the lock that serialises the claims of limited jobs first, so no two claims rewrite a
#: row at once.)
RECORD = f"""
INSERT INTO {{schema}}.rate_keys AS k (key, starts)
SELECT started.key, array_agg(started.expires_at ORDER BY started.expires_at)
FROM (STARTS) AS started(key, expires_at)
GROUP BY started.key
ON CONFLICT (key) DO UPDATE
SET starts = CASE WHEN coalesce(excluded.starts[1] >= k.starts[cardinality(k.starts)], true)
                  THEN k.starts[{_SPENT} + 1:] || excluded.starts
                  ELSE ARRAY(SELECT e FROM unnest(k.starts || excluded.starts) AS e
                             WHERE e > now() ORDER BY e) END
"""
#: Keys whose every start is spent go, up to %s of them. The condition is also the row's
#: own: a claim that records a start under a key while it is being pruned keeps it.
PRUNE_SPENT = """
DELETE FROM {schema}.rate_keys AS k
WHERE key = ANY(ARRAY(SELECT key FROM {schema}.rate_keys AS k WHERE SPENT LIMIT %s)) AND SPENT
""".replace("SPENT", f"{_SPENT} = cardinality(k.starts)")
#: Keys that still count some starts drop their spent ones, up to %s of them.
PRUNE_EXPIRED = f"""
UPDATE {{schema}}.rate_keys AS k SET starts = k.starts[{_SPENT} + 1:]
WHERE key = ANY(ARRAY(SELECT key FROM {{schema}}.rate_keys AS k WHERE {_SPENT} > 0 LIMIT %s))
  AND {_SPENT} > 0
"""


def count_live(key: str) -> str:
    """How many live starts the key the SQL expression `key` gives has (0: none)."""
    return f"coalesce((SELECT {LIVE_COUNT} {_ROW_OF.replace('KEY', key)}), 0)"


def next_expiry(key: str) -> str:
    """When the soonest live start of the key `key` gives expires (NULL: none)."""
    return f"(SELECT {NEXT_EXPIRY} {_ROW_OF.replace('KEY', key)})"


def expiry_at(key: str, offset: str) -> str:
    """The expiry of the live start at `offset`, soonest first, of the key `key` gives."""
    return f"(SELECT k.starts[{_SPENT} + 1 + {offset}] {_ROW_OF.replace('KEY', key)})"


def record(starts: str) -> str:
    """RECORD of the starts the query `starts` gives."""
    return RECORD.replace("STARTS", starts)
