-- Rate limits: a job's key, and at most rate_limit starts per rate_window_s seconds under it
-- (a fixed window if rate_fixed, else sliding). Snoozes: each raised max_attempts by one.
ALTER TABLE underway_jobs ADD COLUMN rate_key TEXT;
ALTER TABLE underway_jobs ADD COLUMN rate_limit INTEGER;
ALTER TABLE underway_jobs ADD COLUMN rate_window_s REAL;
ALTER TABLE underway_jobs ADD COLUMN rate_fixed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE underway_jobs ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;
-- A rate-limited job is claimed like a laned one (ranked against its key's free starts), so
-- the two ready indexes split jobs by both: plain jobs have neither a lane nor a rate key.
DROP INDEX underway_jobs_ready;
CREATE INDEX underway_jobs_ready ON underway_jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL;
DROP INDEX underway_jobs_ready_laned;
CREATE INDEX underway_jobs_ready_laned ON underway_jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL);
-- The starts each rate key counts: one row per start, until the start leaves its window
-- (expires_at: the end of its sliding window, or of the fixed window it fell in). Queue
-- limits count under the key 'queue:' || name.
CREATE TABLE underway_rate_starts (
    key        TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX underway_rate_starts_key ON underway_rate_starts (key, expires_at);
CREATE INDEX underway_rate_starts_expiry ON underway_rate_starts (expires_at);
-- Queues: the limits declared in code (shared by every worker) and whether an operator
-- paused the queue (a paused queue's jobs wait; running ones finish).
CREATE TABLE underway_queues (
    name          TEXT PRIMARY KEY,
    paused        INTEGER NOT NULL DEFAULT 0,
    paused_at     REAL,
    paused_by     TEXT,
    concurrency   INTEGER,
    rate_limit    INTEGER,
    rate_window_s REAL,
    rate_fixed    INTEGER NOT NULL DEFAULT 0
);
