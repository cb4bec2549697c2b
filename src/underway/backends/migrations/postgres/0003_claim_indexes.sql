-- Leases are looked up by worker; heartbeat_at is left out of the index so that refreshing
-- a lease is a HOT update that rewrites no index entry.
DROP INDEX {schema}.jobs_running;
CREATE INDEX jobs_running ON {schema}.jobs (worker_id) WHERE state = 'running';
