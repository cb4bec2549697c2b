-- A claim and a finish each write a new version of the job's row (its state changes), and
-- every index holding the row gets a new entry for it. jobs_name and jobs_state held every
-- row, so they cost each job six of its fifteen index entries, and over a third of the
-- server's CPU per job in the drain benchmark. Failed, cancelled and skipped jobs are few
-- and are looked for, so they keep an index; running and scheduled jobs are found through
-- jobs_running and jobs_scheduled. Listing by name, or completed or pending jobs, reads the
-- table newest first.
DROP INDEX {schema}.jobs_name;
DROP INDEX {schema}.jobs_state;
CREATE INDEX jobs_failed_cancelled_skipped ON {schema}.jobs (state, seq)
    WHERE state IN ('failed', 'cancelled', 'skipped');
