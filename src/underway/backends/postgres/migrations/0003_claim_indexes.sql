-- Leases are looked up by worker; heartbeat_at is left out of the index so that refreshing
-- a lease is a HOT update that rewrites no index entry.
DROP INDEX {schema}.jobs_running;
CREATE INDEX jobs_running ON {schema}.jobs (worker_id) WHERE state = 'running';
-- Ready jobs per queue in claim order: a claim reads its own queues' first jobs, however many
-- jobs other queues hold.
DROP INDEX {schema}.jobs_ready;
CREATE INDEX jobs_ready ON {schema}.jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL;
