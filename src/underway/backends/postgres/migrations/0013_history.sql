-- The history: jobs finished per minute (kept a day) and per hour (kept five weeks), counted
-- per queue, job name and final state, with histograms of durations and queue waits (arrays
-- of counts, the bounds in history_models). A rollup folds finished jobs in, past a watermark
-- kept in the same transaction; pruning folds the jobs it deletes that the rollup has not
-- reached, so that each job is counted once and retention loses none. Bucket starts are
-- epoch seconds, as on SQLite.
CREATE TABLE {schema}.history (
    at           bigint NOT NULL,
    span_s       integer NOT NULL,
    queue        text NOT NULL,
    name         text NOT NULL,
    state        text NOT NULL,
    runs         bigint NOT NULL,
    timed        bigint NOT NULL,
    duration_sum double precision NOT NULL,
    wait_sum     double precision NOT NULL,
    durations    bigint[] NOT NULL,
    waits        bigint[] NOT NULL,
    PRIMARY KEY (span_s, at, queue, name, state)
);
CREATE INDEX history_name ON {schema}.history (name, at);

-- Every job with (finished_at, seq) up to this pair is in the history.
CREATE TABLE {schema}.history_rollup (
    id          integer PRIMARY KEY CHECK (id = 1),
    folded_at   timestamptz NOT NULL,
    folded_seq  bigint NOT NULL
);
INSERT INTO {schema}.history_rollup (id, folded_at, folded_seq) VALUES (1, 'epoch', 0);

-- The rollup reads finished jobs in this order.
CREATE INDEX jobs_finished ON {schema}.jobs (finished_at, seq) WHERE finished_at IS NOT NULL;

-- Jobs the sweeper took back from workers that stopped heartbeating, with what it knew of
-- the worker and what each job became; kept a week.
CREATE TABLE {schema}.worker_losses (
    worker_id    text NOT NULL,
    hostname     text,
    pid          integer,
    last_seen_at timestamptz,
    job_id       text NOT NULL,
    name         text NOT NULL,
    attempt      integer NOT NULL,
    became       text NOT NULL,
    lost_at      timestamptz NOT NULL
);
CREATE INDEX worker_losses_at ON {schema}.worker_losses (lost_at);
