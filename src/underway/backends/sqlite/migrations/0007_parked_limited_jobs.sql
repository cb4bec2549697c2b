-- A rate-limited job whose key is at its limit for a while is parked until the key's next
-- start may be made (held_until, epoch seconds), out of the index that claims read: claims
-- do not read it again until then. The index of ready jobs with a lane or a rate key also
-- carries their queue, lane and rate key, so that a claim skips the jobs of full keys and
-- lanes on the index alone, without reading their rows.
ALTER TABLE underway_jobs ADD COLUMN held_until REAL;
DROP INDEX underway_jobs_ready_laned;
CREATE INDEX underway_jobs_ready_laned ON underway_jobs (priority DESC, run_at, seq, queue, rate_key, lane)
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
      AND held_until IS NULL;
CREATE INDEX underway_jobs_held ON underway_jobs (held_until) WHERE held_until IS NOT NULL;
