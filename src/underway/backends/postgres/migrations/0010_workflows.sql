-- Workflows: a job may wait for others (state 'waiting') and belong to a workflow or batch.
-- waiting_on counts its dependencies that have not ended, failed_dependencies those that
-- ended without completing; dependency_rule (NULL for a job that depends on none) and
-- tolerate say what it becomes (backends/dependency_rules.py); results_into and
-- results_shape say how their results are given to it. Constant defaults change only the
-- catalog: existing rows are not rewritten.
ALTER TABLE {schema}.jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE {schema}.jobs ADD CONSTRAINT jobs_state_check CHECK (state IN ('waiting',
    'scheduled', 'pending', 'running', 'completed', 'failed', 'cancelled', 'skipped'));
ALTER TABLE {schema}.jobs ADD COLUMN workflow_id text;
ALTER TABLE {schema}.jobs ADD COLUMN waiting_on integer NOT NULL DEFAULT 0;
ALTER TABLE {schema}.jobs ADD COLUMN failed_dependencies integer NOT NULL DEFAULT 0;
ALTER TABLE {schema}.jobs ADD COLUMN dependency_rule text;
ALTER TABLE {schema}.jobs ADD COLUMN tolerate integer NOT NULL DEFAULT 0;
ALTER TABLE {schema}.jobs ADD COLUMN results_into text;
ALTER TABLE {schema}.jobs ADD COLUMN results_shape text NOT NULL DEFAULT 'list';
CREATE INDEX jobs_workflow ON {schema}.jobs (workflow_id, seq) WHERE workflow_id IS NOT NULL;
-- The members of a workflow that wait for others: a batch's callbacks, which every job added
-- to the batch must find without reading every member.
CREATE INDEX jobs_dependents ON {schema}.jobs (workflow_id)
    WHERE workflow_id IS NOT NULL AND dependency_rule IS NOT NULL;
-- Waiting jobs are few beside pending and completed ones, and are looked for.
CREATE INDEX jobs_waiting ON {schema}.jobs (seq) WHERE state = 'waiting';
-- A waiting job is active: it holds its fingerprint for unique="join"/"skip", and its
-- recurring definition's run, as a pending one does.
DROP INDEX {schema}.jobs_unique_active;
CREATE UNIQUE INDEX jobs_unique_active ON {schema}.jobs (fingerprint)
    WHERE unique_mode IN ('join', 'skip')
      AND state IN ('waiting', 'scheduled', 'pending', 'running');
DROP INDEX {schema}.jobs_recurring_active;
CREATE INDEX jobs_recurring_active ON {schema}.jobs (recurring_id)
    WHERE recurring_id IS NOT NULL AND state IN ('waiting', 'scheduled', 'pending', 'running');

-- Workflows and batches; seq orders them newest first.
CREATE TABLE {schema}.workflows (
    id         text PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    name       text,
    kind       text NOT NULL CHECK (kind IN ('workflow', 'batch')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per job and job it waits for, in the order given (position). ended is the
-- dependency's end state once it was counted on the dependent (NULL until then); a
-- dependency deleted before it ended is counted as cancelled. The rows of a job are deleted
-- with it (no foreign key: its checks would cost every pruned job a lookup).
CREATE TABLE {schema}.dependencies (
    job_id        text NOT NULL,
    position      integer NOT NULL,
    dependency_id text NOT NULL,
    ended         text,
    PRIMARY KEY (job_id, position)
);
-- A job that ends looks up who still waits on it: for one that nobody waits on, one probe
-- of an empty part of this index.
CREATE INDEX dependencies_waiting ON {schema}.dependencies (dependency_id) WHERE ended IS NULL;
