-- A rate-limited job whose key is at its limit for a while is parked until the key's next
-- start may be made (held_until), out of the index that claims read: claims do not read it
-- again until then.
ALTER TABLE {schema}.jobs ADD COLUMN held_until timestamptz;
DROP INDEX {schema}.jobs_ready_laned;
CREATE INDEX jobs_ready_laned ON {schema}.jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
      AND held_until IS NULL;
CREATE INDEX jobs_held ON {schema}.jobs (held_until) WHERE held_until IS NOT NULL;
