"""SQLite's record of rate starts: a log in expiry order and a row per key with its count.

A claim appends its starts to the log (a row per key, with how many it started) and adds them
to their keys' counts; once they expire, a claim or the pruner settles them: it takes them off
the counts and out of the log, oldest first. Both writes land near the end of what they
change, where an index by key would take a write in the middle of it per key started.

A key's rows are linked, each to when the key's next one expires, so that the key's row keeps
its oldest live expiry (when a full key may start again) with no index by key. That holds
while the key's rows expire in the order they were recorded, as claims do read the time once
they hold the write lock. A start that would expire a little before the key's newest (the
wall clock stepped back) counts until that one expires; one that expires well before it (the
key's window changed) marks the key disordered: settling then finds the key's oldest by
reading the log, and links its rows again once they are in order."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from itertools import pairwise

from .. import claiming

#: How much earlier than its key's newest a start may expire and still be made to expire with
#: it: a step back of the wall clock, less than rate limits notice.
ORDER_SLACK_S = 0.05
#: The log's last row before a record's (the rows it appends follow it).
LAST = "SELECT coalesce(max(id), 0) FROM underway_rate_log"
#: Rows of (key, expiry, starts), ROWS of them, appended: each expires when given, or when
#: its key's newest does if that is at most ?1 later.
APPEND = """
INSERT INTO underway_rate_log (expires_at, key, starts)
SELECT CASE WHEN k.newest_expiry > s.expiry AND k.newest_expiry - s.expiry <= ?1
            THEN k.newest_expiry ELSE s.expiry END,
    s.key, s.starts
FROM (SELECT column1 AS key, column2 AS expiry, column3 AS starts FROM (VALUES ROWS)) AS s
LEFT JOIN underway_rate_keys AS k ON k.key = s.key
"""
#: Rows per APPEND: SQLite binds a bounded number of values to a statement.
ROWS_PER_STATEMENT = 300
#: Link each key's newest row to the one appended after row ?1.
LINK = """
UPDATE underway_rate_log SET next_expiry = added.expires_at
FROM underway_rate_log AS added JOIN underway_rate_keys AS k ON k.key = added.key
WHERE added.id > ?1 AND underway_rate_log.id = k.newest AND NOT k.disordered
"""
#: Count the rows appended after row ?1 under their keys; a key whose newest expires later
#: than its new row becomes disordered.
COUNT = """
INSERT INTO underway_rate_keys (key, starts, oldest, newest, newest_expiry)
SELECT key, starts, expires_at, id, expires_at FROM underway_rate_log WHERE id > ?1
ON CONFLICT (key) DO UPDATE SET starts = starts + excluded.starts,
    oldest = min(oldest, excluded.oldest), newest = excluded.newest,
    newest_expiry = max(newest_expiry, excluded.newest_expiry),
    disordered = disordered OR excluded.newest_expiry < newest_expiry
"""
#: The expired rows a settle takes, oldest first (?2 of them; -1: all).
_EXPIRED = """
SELECT id, key, starts FROM underway_rate_log INDEXED BY underway_rate_log_expiry
WHERE expires_at <= ?1 ORDER BY expires_at, id LIMIT ?2
"""
ANY_EXPIRED = """
SELECT 1 FROM underway_rate_log INDEXED BY underway_rate_log_expiry WHERE expires_at <= ? LIMIT 1
"""
#: Take the expired rows off their keys' counts: each key's oldest becomes the expiry its
#: last expired row links to (NULL: it has none left), but a disordered key's (`_reorder`).
SPEND = f"""
UPDATE underway_rate_keys
SET starts = starts - spent.n,
    oldest = CASE WHEN disordered THEN oldest
                  ELSE (SELECT next_expiry FROM underway_rate_log WHERE id = spent.last) END
FROM (SELECT key, sum(starts) AS n, max(id) AS last FROM ({_EXPIRED}) GROUP BY key) AS spent
WHERE underway_rate_keys.key = spent.key
RETURNING underway_rate_keys.key, starts, disordered
"""
#: A disordered key's rows, in the order they were recorded.
ROWS_OF_KEY = "SELECT id, expires_at FROM underway_rate_log WHERE key = ? ORDER BY id"
LINK_ONE = "UPDATE underway_rate_log SET next_expiry = ? WHERE id = ?"
#: A disordered key's oldest expiry, its rows still out of order.
STILL_DISORDERED = "UPDATE underway_rate_keys SET oldest = ? WHERE key = ?"
#: A key whose rows are in order again: its oldest, and its newest row (the last recorded of
#: its rows left, where the one noted may have been spent before it).
REORDERED = """
UPDATE underway_rate_keys SET oldest = ?, newest = ?, newest_expiry = ?, disordered = 0
WHERE key = ?
"""
FORGET_KEYS = "DELETE FROM underway_rate_keys WHERE key IN (SELECT value FROM json_each(?))"
FORGET_ROWS = f"DELETE FROM underway_rate_log WHERE id IN (SELECT id FROM ({_EXPIRED}))"
#: A key's counted starts (no row: none).
LIVE = "SELECT starts FROM underway_rate_keys WHERE key = ?"
#: A key's starts that expired but are not settled yet (?1 key, ?2 now).
UNSETTLED = """
SELECT coalesce(sum(starts), 0) FROM underway_rate_log INDEXED BY underway_rate_log_expiry
WHERE expires_at <= ?2 AND key = ?1
"""
#: When the key's live start at a position (?3, 0-based), soonest to expire first, expires.
EXPIRY_AT = """
SELECT expires_at FROM (
    SELECT expires_at, id, sum(starts) OVER (ORDER BY expires_at, id) AS upto
    FROM underway_rate_log INDEXED BY underway_rate_log_expiry
    WHERE expires_at > ?2 AND key = ?1)
WHERE upto > ?3 ORDER BY expires_at, id LIMIT 1
"""


def record(conn: sqlite3.Connection, starts: Iterable[claiming.RateStart]) -> None:
    """Record these starts (after `settle`: a key's newest row is then live)."""
    per_key: dict[str, list[float]] = {}  # key -> [the latest expiry, starts]
    for key, expiry in starts:
        if (found := per_key.get(key)) is None:
            per_key[key] = [expiry, 1]
        else:
            found[0] = max(found[0], expiry)
            found[1] += 1
    if not per_key:
        return
    rows = [(key, *found) for key, found in per_key.items()]
    last = conn.execute(LAST).fetchone()[0]
    for first in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[first : first + ROWS_PER_STATEMENT]
        statement = APPEND.replace("ROWS", ",".join(["(?, ?, ?)"] * len(part)))
        conn.execute(statement, [ORDER_SLACK_S, *(value for row in part for value in row)])
    conn.execute(LINK, (last,))
    conn.execute(COUNT, (last,))


def settle(conn: sqlite3.Connection, now: float, most: int = -1) -> int:
    """Settle the first `most` expired rows (-1: all of them); how many it settled."""
    if conn.execute(ANY_EXPIRED, (now,)).fetchone() is None:
        return 0
    spent = conn.execute(SPEND, (now, most)).fetchall()
    emptied = [key for key, starts, _ in spent if starts <= 0]
    if emptied:
        conn.execute(FORGET_KEYS, (json.dumps(emptied),))
    settled = int(conn.execute(FORGET_ROWS, (now, most)).rowcount)
    for key, starts, disordered in spent:
        if disordered and starts > 0:
            _reorder(conn, key)
    return settled


def _reorder(conn: sqlite3.Connection, key: str) -> None:
    """Set a disordered key's oldest from its rows left (a read of the whole log); if they
    are in order now, link them again (the last to none) and clear the mark."""
    rows = conn.execute(ROWS_OF_KEY, (key,)).fetchall()
    expiries = [expiry for _, expiry in rows]
    if not all(earlier <= later for earlier, later in pairwise(expiries)):
        conn.execute(STILL_DISORDERED, (min(expiries), key))
        return
    links = [(expiry, id_) for (id_, _), (_, expiry) in pairwise(rows)]
    conn.executemany(LINK_ONE, [*links, (None, rows[-1][0])])
    conn.execute(REORDERED, (expiries[0], rows[-1][0], expiries[-1], key))


def live(conn: sqlite3.Connection, key: str, now: float) -> int:
    """How many starts of `key` count at `now` (settled or not: a read does not settle)."""
    row = conn.execute(LIVE, (key,)).fetchone()
    if row is None:
        return 0
    return int(row[0]) - int(conn.execute(UNSETTLED, (key, now)).fetchone()[0])


def expiry_at(conn: sqlite3.Connection, key: str, now: float, position: int) -> float | None:
    """When `key`'s live start at `position` (0-based, soonest to expire first) expires."""
    row = conn.execute(EXPIRY_AT, (key, now, position)).fetchone()
    return None if row is None else float(row[0])
