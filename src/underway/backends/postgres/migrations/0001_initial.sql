-- Jobs, their log lines and the registry of live workers, in the schema named by {schema}.
-- All times come from the database's now(), so hosts with skewed clocks agree.
CREATE TABLE {schema}.jobs (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               text NOT NULL UNIQUE,
    name             text NOT NULL,
    queue            text NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    state            text NOT NULL CHECK (state IN ('scheduled', 'pending', 'running',
                         'completed', 'failed', 'cancelled', 'skipped')),
    args             jsonb NOT NULL,
    attempt          integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    run_at           timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    heartbeat_at     timestamptz,
    worker_id        text,
    progress         double precision NOT NULL DEFAULT 0,
    message          text,
    result           jsonb,
    error            jsonb,
    errors           jsonb NOT NULL DEFAULT '[]',
    fingerprint      text,
    unique_mode      text,
    lane             text,
    lane_limit       integer,
    cancel_requested boolean NOT NULL DEFAULT false,
    retention_s      double precision NOT NULL,
    expires_at       timestamptz,
    log_count        integer NOT NULL DEFAULT 0,
    logs_dropped     integer NOT NULL DEFAULT 0,
    duplicate_of     text,
    skip_reason      text,
    idempotency_key  text,
    recurring_id     text,
    fire_at          timestamptz
);

-- The claim query walks this index in order: ready jobs by priority, then age.
CREATE INDEX jobs_ready ON {schema}.jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL;
CREATE INDEX jobs_ready_laned ON {schema}.jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NOT NULL;
CREATE INDEX jobs_running ON {schema}.jobs (worker_id, heartbeat_at) WHERE state = 'running';
CREATE INDEX jobs_running_lanes ON {schema}.jobs (lane)
    WHERE state = 'running' AND lane IS NOT NULL;
CREATE INDEX jobs_scheduled ON {schema}.jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_expiry ON {schema}.jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX jobs_name ON {schema}.jobs (name, seq);
CREATE INDEX jobs_state ON {schema}.jobs (state, seq);
CREATE INDEX jobs_fingerprint ON {schema}.jobs (fingerprint, finished_at)
    WHERE fingerprint IS NOT NULL;

-- Single instance: at most one active job per fingerprint for join/skip jobs.
CREATE UNIQUE INDEX jobs_unique_active ON {schema}.jobs (fingerprint)
    WHERE unique_mode IN ('join', 'skip') AND state IN ('scheduled', 'pending', 'running');
-- Lanes of one (unique='queue', concurrency=1): at most one recorded running attempt.
CREATE UNIQUE INDEX jobs_lane_single_runner ON {schema}.jobs (lane)
    WHERE state = 'running' AND lane_limit = 1;
CREATE UNIQUE INDEX jobs_idempotency ON {schema}.jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Cron: one job per recurring definition and tick.
CREATE UNIQUE INDEX jobs_recurring_tick ON {schema}.jobs (recurring_id, fire_at)
    WHERE recurring_id IS NOT NULL;

CREATE TABLE {schema}.job_logs (
    job_id  text NOT NULL REFERENCES {schema}.jobs (id) ON DELETE CASCADE,
    seq     integer NOT NULL,
    at      timestamptz NOT NULL,
    level   text NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE {schema}.workers (
    id           text PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    queues       jsonb NOT NULL,
    concurrency  integer NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
