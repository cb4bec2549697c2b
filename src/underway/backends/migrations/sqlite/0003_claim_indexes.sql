-- Leases are looked up by worker; heartbeat_at is left out of the index so that refreshing
-- a lease rewrites no index entry (heartbeats and claims touch every running row).
DROP INDEX underway_jobs_running;
CREATE INDEX underway_jobs_running ON underway_jobs (worker_id) WHERE state = 'running';
-- Laned ready jobs in claim order: a claim ranks the first few hundred, not the backlog.
CREATE INDEX underway_jobs_ready_laned ON underway_jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NOT NULL;
