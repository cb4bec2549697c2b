-- The Queues page counts each queue's jobs per state on indexes instead of reading every
-- row. All of a queue's jobs, on an index of queues: written once, as a job is stored (SQLite
-- rewrites an index only when its columns change, and a job's queue never does). Those in
-- the states few jobs are in, on one by queue and state that leaves running jobs out, so
-- that claims and finishes write nothing to it (running jobs are few and found through
-- their own index).
CREATE INDEX underway_jobs_queue ON underway_jobs (queue);
CREATE INDEX underway_jobs_queue_state ON underway_jobs (queue, state)
    WHERE state = 'scheduled' OR state = 'failed' OR state = 'cancelled' OR state = 'skipped'
        OR state = 'waiting';
