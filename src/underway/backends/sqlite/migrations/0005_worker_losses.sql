-- How many times each job lost its worker (killed, frozen past the stall timeout, cut off).
-- A loss spends none of the job's retries; the worker's max_losses-th loss fails the job with
-- WorkerLost, so a job that kills its worker every time cannot loop forever.
ALTER TABLE underway_jobs ADD COLUMN losses INTEGER NOT NULL DEFAULT 0;
