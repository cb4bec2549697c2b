-- The history: jobs finished per minute (kept a day) and per hour (kept five weeks), counted
-- per queue, job name and final state, with histograms of durations and queue waits (JSON
-- arrays of counts, the bounds in history_models). A rollup folds finished jobs in, past a
-- watermark kept in the same transaction; pruning folds the jobs it deletes that the rollup
-- has not reached, so that each job is counted once and retention loses none.
CREATE TABLE underway_history (
    at           INTEGER NOT NULL,
    span_s       INTEGER NOT NULL,
    queue        TEXT NOT NULL,
    name         TEXT NOT NULL,
    state        TEXT NOT NULL,
    runs         INTEGER NOT NULL,
    timed        INTEGER NOT NULL,
    duration_sum REAL NOT NULL,
    wait_sum     REAL NOT NULL,
    durations    TEXT NOT NULL,
    waits        TEXT NOT NULL,
    PRIMARY KEY (span_s, at, queue, name, state)
) WITHOUT ROWID;
CREATE INDEX underway_history_name ON underway_history (name, at);

-- Every job with (finished_at, seq) up to this pair is in the history.
CREATE TABLE underway_history_rollup (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    folded_at   REAL NOT NULL,
    folded_seq  INTEGER NOT NULL
);
INSERT INTO underway_history_rollup (id, folded_at, folded_seq) VALUES (1, 0, 0);

-- The rollup reads finished jobs in this order (the rowid, seq, is in every entry).
CREATE INDEX underway_jobs_finished ON underway_jobs (finished_at)
    WHERE finished_at IS NOT NULL;

-- Jobs the sweeper took back from workers that stopped heartbeating, with what it knew of
-- the worker and what each job became; kept a week.
CREATE TABLE underway_worker_losses (
    worker_id    TEXT NOT NULL,
    hostname     TEXT,
    pid          INTEGER,
    last_seen_at REAL,
    job_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    became       TEXT NOT NULL,
    lost_at      REAL NOT NULL
);
CREATE INDEX underway_worker_losses_at ON underway_worker_losses (lost_at);
