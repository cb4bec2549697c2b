-- The index of a workflow's members leaves running jobs out, so that claiming a member
-- (pending to running) writes no entry to it; the lookups of a workflow's members find the
-- running ones through the index of running jobs (backends/postgres/workflows.py).
DROP INDEX {schema}.jobs_workflow;
CREATE INDEX jobs_workflow ON {schema}.jobs (workflow_id, seq)
    WHERE workflow_id IS NOT NULL AND state <> 'running';
