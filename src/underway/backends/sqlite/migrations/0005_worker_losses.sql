-- How many times each job lost its worker (killed, frozen past the stall timeout, cut off).
-- A loss spends none of the job's retries; past the worker's max_losses the job fails with
-- WorkerLost, so a job that kills its worker every time cannot loop forever.
ALTER TABLE underway_jobs ADD COLUMN losses INTEGER NOT NULL DEFAULT 0;
