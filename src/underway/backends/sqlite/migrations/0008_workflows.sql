-- Workflows: a job may wait for others (state 'waiting') and belong to a workflow or batch.
-- waiting_on counts its dependencies that have not ended, failed_dependencies those that
-- ended without completing; dependency_rule (NULL for a job that depends on none) and
-- tolerate say what it becomes (backends/dependency_rules.py); results_into and
-- results_shape say how their results are given to it.
ALTER TABLE underway_jobs ADD COLUMN workflow_id TEXT;
ALTER TABLE underway_jobs ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0;
ALTER TABLE underway_jobs ADD COLUMN failed_dependencies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE underway_jobs ADD COLUMN dependency_rule TEXT;
ALTER TABLE underway_jobs ADD COLUMN tolerate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE underway_jobs ADD COLUMN results_into TEXT;
ALTER TABLE underway_jobs ADD COLUMN results_shape TEXT NOT NULL DEFAULT 'list';
CREATE INDEX underway_jobs_workflow ON underway_jobs (workflow_id, seq)
    WHERE workflow_id IS NOT NULL;
-- The members of a workflow that wait for others: a batch's callbacks, which every job added
-- to the batch (from its members, as they run) must find without reading every member.
CREATE INDEX underway_jobs_dependents ON underway_jobs (workflow_id)
    WHERE workflow_id IS NOT NULL AND dependency_rule IS NOT NULL;
-- A waiting job is active: it holds its fingerprint for unique="join"/"skip" as a pending
-- one does, is found by the lookups of active jobs (a recurring definition's active run),
-- and is listed by state through the index of the states that are not most jobs'.
DROP INDEX underway_jobs_unique_active;
CREATE UNIQUE INDEX underway_jobs_unique_active ON underway_jobs (fingerprint)
    WHERE unique_mode IN ('join', 'skip')
      AND state IN ('scheduled', 'pending', 'running', 'waiting');
DROP INDEX underway_jobs_recurring_active;
CREATE INDEX underway_jobs_recurring_active ON underway_jobs (recurring_id)
    WHERE recurring_id IS NOT NULL AND state IN ('pending', 'running', 'scheduled', 'waiting');
DROP INDEX underway_jobs_state_except_pending_completed;
CREATE INDEX underway_jobs_state_except_pending_completed ON underway_jobs (state, seq)
    WHERE state = 'running' OR state = 'scheduled' OR state = 'failed' OR state = 'cancelled'
        OR state = 'skipped' OR state = 'waiting';

-- Workflows and batches; seq orders them newest first.
CREATE TABLE underway_workflows (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT,
    kind       TEXT NOT NULL,
    created_at REAL NOT NULL
);

-- One row per job and job it waits for, in the order given (position). ended is the
-- dependency's end state once it was counted on the dependent (NULL until then); a
-- dependency deleted before it ended is counted as cancelled. The rows of a job go with it.
CREATE TABLE underway_dependencies (
    job_id        TEXT NOT NULL REFERENCES underway_jobs (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    dependency_id TEXT NOT NULL,
    ended         TEXT,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
-- A job that ends looks up who still waits on it: for one that nobody waits on, one probe
-- of an empty part of this index.
CREATE INDEX underway_dependencies_waiting ON underway_dependencies (dependency_id)
    WHERE ended IS NULL;
