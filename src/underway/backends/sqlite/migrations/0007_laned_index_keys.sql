-- The index of ready jobs with a lane or a rate key carries their queue, lane and rate key,
-- so that a claim skips the jobs of full keys and lanes on the index alone, without reading
-- their rows.
DROP INDEX underway_jobs_ready_laned;
CREATE INDEX underway_jobs_ready_laned ON underway_jobs (priority DESC, run_at, seq, queue, rate_key, lane)
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL);
