-- A claim that finds a rate key full for a while parks every waiting job of the key at once:
-- the key's waiting jobs, found by this index instead of by reading through them.
CREATE INDEX jobs_waiting_rate_key ON {schema}.jobs (rate_key)
    WHERE state IN ('pending', 'scheduled') AND rate_key IS NOT NULL AND held_until IS NULL;
