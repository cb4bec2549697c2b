-- Leases are looked up by worker; heartbeat_at is left out of the index so that refreshing
-- a lease rewrites no index entry (heartbeats and claims touch every running row).
DROP INDEX underway_jobs_running;
CREATE INDEX underway_jobs_running ON underway_jobs (worker_id) WHERE state = 'running';
-- Laned ready jobs in claim order: a claim ranks the first few hundred, not the backlog.
CREATE INDEX underway_jobs_ready_laned ON underway_jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NOT NULL;
-- Ready jobs per queue in claim order: a claim reads its own queues' first jobs, however many
-- jobs other queues hold.
DROP INDEX underway_jobs_ready;
CREATE INDEX underway_jobs_ready ON underway_jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL;
-- Scheduled jobs by due time, for the sweeper that makes them pending.
CREATE INDEX underway_jobs_scheduled ON underway_jobs (run_at) WHERE state = 'scheduled';
