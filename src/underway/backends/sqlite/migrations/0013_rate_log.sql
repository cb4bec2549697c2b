-- Rate starts as a log in expiry order and a count per key (rate_starts.py): recording a start
-- appends to both ends of what it changes, where the index by (key, expiry) took a write in
-- its middle per key started. Each row links to when its key's next row expires, so a key's
-- row keeps when its oldest live start expires.
CREATE TABLE underway_rate_log (
    id          INTEGER PRIMARY KEY,
    expires_at  REAL NOT NULL,
    key         TEXT NOT NULL,
    starts      INTEGER NOT NULL,
    next_expiry REAL
);
CREATE INDEX underway_rate_log_expiry ON underway_rate_log (expires_at);
-- The keys with live starts: how many, when the oldest expires (NULL only while a settle
-- that spent them all deletes the row), the newest row, and whether a start expires before
-- one recorded earlier (a window changed: the links no longer give the oldest).
CREATE TABLE underway_rate_keys (
    key           TEXT PRIMARY KEY,
    starts        INTEGER NOT NULL,
    oldest        REAL,
    newest        INTEGER NOT NULL,
    newest_expiry REAL NOT NULL,
    disordered    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO underway_rate_log (expires_at, key, starts, next_expiry)
SELECT expires_at, key, 1, lead(expires_at) OVER (PARTITION BY key ORDER BY expires_at)
FROM underway_rate_starts ORDER BY key, expires_at;
INSERT INTO underway_rate_keys (key, starts, oldest, newest, newest_expiry)
SELECT key, count(*), min(expires_at), max(id), max(expires_at)
FROM underway_rate_log GROUP BY key;
DROP TABLE underway_rate_starts;
