-- Jobs, their log lines and the registry of live workers. Times are epoch seconds (REAL).
CREATE TABLE underway_jobs (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL,
    args             TEXT NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    created_at       REAL NOT NULL,
    run_at           REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    heartbeat_at     REAL,
    worker_id        TEXT,
    progress         REAL NOT NULL DEFAULT 0,
    message          TEXT,
    result           TEXT,
    error            TEXT,
    errors           TEXT NOT NULL DEFAULT '[]',
    fingerprint      TEXT,
    unique_mode      TEXT,
    lane             TEXT,
    lane_limit       INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    retention_s      REAL NOT NULL,
    expires_at       REAL,
    log_count        INTEGER NOT NULL DEFAULT 0,
    logs_dropped     INTEGER NOT NULL DEFAULT 0,
    duplicate_of     TEXT,
    skip_reason      TEXT,
    idempotency_key  TEXT,
    recurring_id     TEXT,
    fire_at          REAL
);

-- The claim query walks this index in order: ready jobs by priority, then age.
CREATE INDEX underway_jobs_ready ON underway_jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL;
CREATE INDEX underway_jobs_ready_lanes ON underway_jobs (lane, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NOT NULL;
CREATE INDEX underway_jobs_running ON underway_jobs (worker_id, heartbeat_at)
    WHERE state = 'running';
CREATE INDEX underway_jobs_running_lanes ON underway_jobs (lane)
    WHERE state = 'running' AND lane IS NOT NULL;
CREATE INDEX underway_jobs_expiry ON underway_jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX underway_jobs_name ON underway_jobs (name, seq);
CREATE INDEX underway_jobs_state ON underway_jobs (state, seq);
CREATE INDEX underway_jobs_fingerprint ON underway_jobs (fingerprint, finished_at)
    WHERE fingerprint IS NOT NULL;

-- Single instance: at most one active job per fingerprint for join/skip jobs.
CREATE UNIQUE INDEX underway_jobs_unique_active ON underway_jobs (fingerprint)
    WHERE unique_mode IN ('join', 'skip') AND state IN ('scheduled', 'pending', 'running');
-- Lanes of one (unique='queue', concurrency=1): at most one recorded running attempt.
CREATE UNIQUE INDEX underway_jobs_lane_single_runner ON underway_jobs (lane)
    WHERE state = 'running' AND lane_limit = 1;
CREATE UNIQUE INDEX underway_jobs_idempotency ON underway_jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Cron: one job per recurring definition and tick.
CREATE UNIQUE INDEX underway_jobs_recurring_tick ON underway_jobs (recurring_id, fire_at)
    WHERE recurring_id IS NOT NULL;

CREATE TABLE underway_job_logs (
    job_id  TEXT NOT NULL REFERENCES underway_jobs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    at      REAL NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

CREATE TABLE underway_workers (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    queues       TEXT NOT NULL,
    concurrency  INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
