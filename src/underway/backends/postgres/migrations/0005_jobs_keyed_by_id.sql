-- A claim and a finish each write a new version of the job's row, and every index on the
-- table gets an entry for it. The job's id is its key everywhere: enqueue's ON CONFLICT,
-- claims, finishes, reads and the log lines' foreign key. The seq primary key was a second
-- unique index on every row. seq stays as the order of insertion, without an index of its
-- own: the claim indexes and jobs_failed_cancelled_skipped hold it where an order is walked.
ALTER TABLE {schema}.jobs DROP CONSTRAINT jobs_pkey;
-- Logical replication identifies a job's row by its id.
ALTER TABLE {schema}.jobs REPLICA IDENTITY USING INDEX jobs_id_key;
