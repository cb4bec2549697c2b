-- Job lists read newest first a page at a time, in the order of job ids (uuid7s, which
-- begin with their creation time), through the ids' unique index: no index on seq, which
-- would cost every new version of a job's row (each claim and finish) one more entry. The
-- lists by state walk their partial indexes in the same order.
DROP INDEX {schema}.jobs_failed_cancelled_skipped;
CREATE INDEX jobs_failed_cancelled_skipped ON {schema}.jobs (state, id)
    WHERE state IN ('failed', 'cancelled', 'skipped');
DROP INDEX {schema}.jobs_waiting;
CREATE INDEX jobs_waiting ON {schema}.jobs (id) WHERE state = 'waiting';
