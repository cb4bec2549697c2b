-- Recurring (cron) definitions. Jobs they create carry recurring_id and fire_at, and the
-- unique index underway_jobs_recurring_tick allows one job per definition and tick.
CREATE TABLE underway_recurring (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    job_name     TEXT NOT NULL,
    cron         TEXT NOT NULL,
    timezone     TEXT NOT NULL,
    args         TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    overlap      TEXT NOT NULL,
    catch_up     TEXT NOT NULL,
    from_code    INTEGER NOT NULL DEFAULT 0,
    created_at   REAL NOT NULL,
    next_fire_at REAL,
    last_fire_at REAL,
    last_job_id  TEXT
);
CREATE INDEX underway_recurring_due ON underway_recurring (next_fire_at) WHERE enabled = 1;
CREATE INDEX underway_jobs_recurring_active ON underway_jobs (recurring_id)
    WHERE recurring_id IS NOT NULL AND state IN ('scheduled', 'pending', 'running');
