-- A job that another waits for (an edge to it was stored before it ended) is marked, under
-- its row lock: a finish then settles it in its transaction, and the finish of any other job
-- stays the one statement it was (its fence reads the flag on the row it updates, so an
-- edge stored while the finish waited for that row's lock is seen). The flag stays: a job
-- once awaited is settled on every end. A constant default rewrites no row.
ALTER TABLE {schema}.jobs ADD COLUMN awaited boolean NOT NULL DEFAULT false;
