-- Rate limits: a job's key, and at most rate_limit starts per rate_window_s seconds under it
-- (a fixed window if rate_fixed, else sliding). Snoozes: each raised max_attempts by one.
ALTER TABLE {schema}.jobs ADD COLUMN rate_key text;
ALTER TABLE {schema}.jobs ADD COLUMN rate_limit integer;
ALTER TABLE {schema}.jobs ADD COLUMN rate_window_s double precision;
ALTER TABLE {schema}.jobs ADD COLUMN rate_fixed boolean NOT NULL DEFAULT false;
ALTER TABLE {schema}.jobs ADD COLUMN snoozes integer NOT NULL DEFAULT 0;
-- A rate-limited job is claimed like a laned one (ranked against its key's free starts), so
-- the two ready indexes split jobs by both: plain jobs have neither a lane nor a rate key.
DROP INDEX {schema}.jobs_ready;
CREATE INDEX jobs_ready ON {schema}.jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL;
DROP INDEX {schema}.jobs_ready_laned;
CREATE INDEX jobs_ready_laned ON {schema}.jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL);
-- The starts each rate key counts: one row per start, until the start leaves its window
-- (expires_at: the end of its sliding window, or of the fixed window it fell in). Queue
-- limits count under the key 'queue:' || name.
CREATE TABLE {schema}.rate_starts (
    key        text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX rate_starts_key ON {schema}.rate_starts (key, expires_at);
CREATE INDEX rate_starts_expiry ON {schema}.rate_starts (expires_at);
-- Queues: the limits declared in code (shared by every worker) and whether an operator
-- paused the queue (a paused queue's jobs wait; running ones finish).
CREATE TABLE {schema}.queues (
    name          text PRIMARY KEY,
    paused        boolean NOT NULL DEFAULT false,
    paused_at     timestamptz,
    paused_by     text,
    concurrency   integer,
    rate_limit    integer,
    rate_window_s double precision,
    rate_fixed    boolean NOT NULL DEFAULT false
);
