-- A workflow's members are listed by a table of their own, written once as each member is
-- stored, instead of by an index on jobs: a member's finish writes a new version of its row
-- (state is in the claim indexes' conditions), and every index on jobs whose condition the
-- new version meets takes an entry for it, which a plain job's finish does not pay. A row
-- is keyed by its job's seq, by which it is deleted with the job (prune, delete); the index
-- by workflow orders a workflow's members as stored and holds their ids, so that they are
-- read from it alone.
CREATE TABLE {schema}.workflow_members (
    seq         bigint PRIMARY KEY,
    workflow_id text NOT NULL,
    job_id      text NOT NULL
);
CREATE INDEX workflow_members_of ON {schema}.workflow_members (workflow_id, seq) INCLUDE (job_id);
INSERT INTO {schema}.workflow_members (seq, workflow_id, job_id)
SELECT seq, workflow_id, id FROM {schema}.jobs WHERE workflow_id IS NOT NULL;
DROP INDEX {schema}.jobs_workflow;
