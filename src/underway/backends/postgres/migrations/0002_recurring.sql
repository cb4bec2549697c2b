-- Recurring (cron) definitions. Jobs they create carry recurring_id and fire_at, and the
-- unique index jobs_recurring_tick allows one job per definition and tick.
CREATE TABLE {schema}.recurring (
    id           text PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    job_name     text NOT NULL,
    cron         text NOT NULL,
    timezone     text NOT NULL,
    args         jsonb NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    overlap      text NOT NULL,
    catch_up     text NOT NULL,
    from_code    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    next_fire_at timestamptz,
    last_fire_at timestamptz,
    last_job_id  text
);
CREATE INDEX recurring_due ON {schema}.recurring (next_fire_at) WHERE enabled;
CREATE INDEX jobs_recurring_active ON {schema}.jobs (recurring_id)
    WHERE recurring_id IS NOT NULL AND state IN ('scheduled', 'pending', 'running');
