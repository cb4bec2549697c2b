-- The starts a rate key counts: one row per key, with the expiry of each of its starts
-- (the end of its sliding window, or of the fixed window it fell in), soonest first; a
-- start counts until its expiry. A claim counts a key's live starts by a binary search of
-- that array, where a row per start cost it a visit of each start's heap tuple (fresh
-- tuples are not all-visible, so even an index-only scan reads them). It records its starts
-- by rewriting the key's row, without the spent ones; the row's free space on its page
-- leaves room for the new version. Queue limits count under the key 'queue:' || name.
CREATE TABLE {schema}.rate_keys (
    key    text PRIMARY KEY,
    starts timestamptz[] NOT NULL
) WITH (fillfactor = 50);
INSERT INTO {schema}.rate_keys (key, starts)
SELECT key, array_agg(expires_at ORDER BY expires_at) FROM {schema}.rate_starts
WHERE expires_at > now() GROUP BY key;
DROP TABLE {schema}.rate_starts;
