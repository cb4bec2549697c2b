-- A claim and a finish each change the job's state, so SQLite rewrites the job's entry in
-- every index on the state twice per job (an index on columns that do not change, like
-- underway_jobs_name, is written once, when the job is stored). Pending and completed jobs,
-- which every job passes through and which are most of the table, leave this index: listing
-- them reads the table newest first. The condition is written with OR so that SQLite can use
-- the index for a query that names one or some of these states.
DROP INDEX underway_jobs_state;
CREATE INDEX underway_jobs_state_except_pending_completed ON underway_jobs (state, seq)
    WHERE state = 'running' OR state = 'scheduled' OR state = 'failed' OR state = 'cancelled'
        OR state = 'skipped';
