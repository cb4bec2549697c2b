-- claim_limited parks each waiting job of a key it finds full for a while until the earliest
-- its key could start it (`claiming.parked_until`), where it parked them all until the key's
-- next start: each slot that opened then brought all of them back, and the claim that took
-- one parked the others again. Its verdict row tells when the first parked job comes back
-- (`rate_next`: the worker's idle wait ends then). The function is otherwise 0020's.

-- The claim (`limited_claim.claim_limited` calls it). Its lock is the ranked claim's too
-- (`claim_lock.LOCK_AND_NOW`, with the same key), and so are the settings it plans under and
-- the release of parked jobs (`claim_lock.RELEASE_PARKED`). `limited`: the first `p_size`
-- ready jobs with a lane or a rate key in claim order (but parked ones and those of keys
-- known held), each with the room its lane and key had and its rank among the jobs read of
-- its lane and of its key: a job fits if both ranks are within that room. `last`: the last
-- job read when `p_size` were (later ones were not seen, so no plain job after it may be
-- taken). The claim takes the first `p_limit` of the fitting and plain jobs, records their
-- starts, and parks every waiting job of the keys it found full for a while (each until
-- `claiming.parked_until`). It claims nothing when the ranked claim must decide (`walk`).
-- Rows: the claimed jobs (`kind` 'job'), each key found full with its next start ('held'),
-- and one 'verdict' (with when the first parked job comes back).
CREATE OR REPLACE FUNCTION {schema}.claim_limited(
    p_schema text, p_worker text, p_queues text[], p_limit int, p_size int, p_held text[],
    p_park_from float8, p_dispatch float8, p_share float8
) RETURNS TABLE (
    out_kind text, out_id text, out_name text, out_args jsonb, out_attempt int,
    out_max_attempts int, out_dependency_rule text, out_workflow_id text,
    out_awaited boolean, out_seq bigint, out_priority int, out_run_at timestamptz,
    out_queue text, out_trace_context text, out_rate_key text, out_rate_next float8,
    out_walk boolean, out_partial boolean, out_saw_limited boolean
) LANGUAGE plpgsql AS $$
DECLARE
    v_released bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('underway:lanes:' || p_schema, 0));
    PERFORM set_config('enable_bitmapscan', 'off', true), set_config('jit', 'off', true),
        set_config('plan_cache_mode', 'force_generic_plan', true);
    UPDATE {schema}.jobs SET held_until = NULL
    WHERE id = ANY(ARRAY(SELECT id FROM {schema}.jobs WHERE held_until <= now()
                         ORDER BY held_until LIMIT 10000))
      AND (SELECT min(held_until) FROM {schema}.jobs) <= now();
    GET DIAGNOSTICS v_released = ROW_COUNT;
    RETURN QUERY
        WITH t AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
        open AS (SELECT q.name FROM unnest(p_queues) AS q(name)
                 WHERE NOT EXISTS (SELECT 1 FROM {schema}.queues WHERE name = q.name AND paused)),
        limited AS (SELECT id, seq, priority, run_at, lane, lane_limit, rate_key, rate_limit,
                           rate_window_s, rate_fixed FROM {schema}.jobs
                    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
                      AND held_until IS NULL AND run_at <= now() AND queue IN (SELECT name FROM open)
                      AND (rate_key IS NULL OR rate_key NOT IN (SELECT unnest(p_held)))
                    ORDER BY priority DESC, run_at, seq LIMIT p_size),
        counted AS (SELECT l.*,
            CASE WHEN l.lane IS NOT NULL
                 THEN l.lane_limit - (SELECT count(*) FROM {schema}.jobs AS r
                                      WHERE r.state = 'running' AND r.lane = l.lane) END AS lane_free,
            l.rate_limit - coalesce(s.started, 0) AS rate_free, s.next AS rate_next,
            row_number() OVER (PARTITION BY l.lane ORDER BY l.priority DESC, l.run_at, l.seq)
                AS lane_rank,
            row_number() OVER (PARTITION BY l.rate_key ORDER BY l.priority DESC, l.run_at, l.seq)
                AS key_rank
            FROM limited AS l
            LEFT JOIN LATERAL (
                SELECT cardinality(k.starts) - width_bucket(now(), k.starts) AS started,
                    extract(epoch FROM k.starts[width_bucket(now(), k.starts) + 1])::float8
                        AS next
                FROM {schema}.rate_keys AS k WHERE k.key = l.rate_key) AS s ON true),
        verdict AS (SELECT EXISTS (SELECT 1 FROM {schema}.queues WHERE name IN (SELECT name FROM open)
                                   AND (concurrency IS NOT NULL OR rate_limit IS NOT NULL))
                           OR EXISTS (SELECT 1 FROM limited
                                      WHERE lane IS NOT NULL AND rate_key IS NOT NULL) AS walk),
        last AS (SELECT -priority AS priority, run_at, seq FROM limited
                 WHERE (SELECT count(*) FROM limited) >= p_size
                 ORDER BY priority, run_at DESC, seq DESC LIMIT 1),
        plain AS (SELECT c.id, c.seq, c.priority, c.run_at, NULL::text AS rate_key,
                         NULL::float8 AS rate_window_s, NULL::boolean AS rate_fixed
                  FROM open AS q,
                  LATERAL (SELECT id, seq, priority, run_at FROM {schema}.jobs WHERE queue = q.name
                           AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
                           AND run_at <= now() ORDER BY priority DESC, run_at, seq LIMIT p_limit
                           FOR UPDATE SKIP LOCKED) AS c
                  WHERE NOT EXISTS (SELECT 1 FROM last)
                     OR (-c.priority, c.run_at, c.seq) <= (SELECT priority, run_at, seq FROM last)),
        chosen AS (SELECT * FROM (SELECT id, seq, priority, run_at, rate_key, rate_window_s, rate_fixed
                                  FROM counted
                                  WHERE (lane IS NULL OR lane_rank <= lane_free)
                                    AND (rate_key IS NULL OR key_rank <= rate_free)
                                  UNION ALL SELECT * FROM plain) AS fitting
                   WHERE NOT (SELECT walk FROM verdict)
                   ORDER BY priority DESC, run_at, seq LIMIT p_limit),
        recorded AS (
        INSERT INTO {schema}.rate_keys AS k (key, starts)
        SELECT started.key, array_agg(started.expires_at ORDER BY started.expires_at)
        FROM (SELECT c.rate_key,
                     to_timestamp({schema}.start_expiry(t.now, c.rate_window_s, c.rate_fixed,
                                                        p_dispatch, p_share))
              FROM chosen AS c, t WHERE c.rate_key IS NOT NULL) AS started(key, expires_at)
        GROUP BY started.key
        ON CONFLICT (key) DO UPDATE
        SET starts = CASE WHEN coalesce(excluded.starts[1] >= k.starts[cardinality(k.starts)], true)
                          THEN k.starts[width_bucket(now(), k.starts) + 1:] || excluded.starts
                          ELSE ARRAY(SELECT e FROM unnest(k.starts || excluded.starts) AS e
                                     WHERE e > now() ORDER BY e) END
        ),
        parking AS (SELECT c.rate_key, min(c.rate_next) AS until FROM counted AS c, t
                    WHERE c.rate_free <= 0 AND c.rate_next >= t.now + p_park_from
                    GROUP BY c.rate_key),
        parked AS (
        UPDATE {schema}.jobs AS j
        SET held_until = to_timestamp(w.until + w.window_s * ((w.position - 1) / w.per_window))
        FROM (SELECT k.id, p.until, k.window_s, k.per_window, k.position FROM parking AS p,
              LATERAL (SELECT id, min(rate_window_s) OVER () AS window_s,
                              max(rate_limit) OVER () AS per_window,
                              CASE WHEN run_at <= now()
                                   THEN row_number() OVER (PARTITION BY run_at <= now()
                                                           ORDER BY priority DESC, run_at, seq)
                                   ELSE 1 END AS position
                       FROM {schema}.jobs WHERE rate_key = p.rate_key
                       AND state IN ('pending', 'scheduled') AND held_until IS NULL OFFSET 0) AS k) AS w
        WHERE j.id = w.id AND NOT (SELECT walk FROM verdict)),
        claimed AS (UPDATE {schema}.jobs SET state = 'running', attempt = attempt + 1,
                        worker_id = p_worker, started_at = to_timestamp((SELECT now FROM t)),
                        heartbeat_at = now(), progress = 0, message = NULL
                    WHERE id = ANY(ARRAY(SELECT id FROM chosen)) AND state IN ('pending', 'scheduled')
                    RETURNING id, name, args, attempt, max_attempts, dependency_rule, workflow_id,
                        awaited, seq, priority, run_at, queue, trace_context)
        SELECT 'job' AS kind, claimed.*, NULL::text AS rate_key, NULL::float8 AS rate_next,
            NULL::boolean AS walk, NULL::boolean AS partial, NULL::boolean AS saw_limited
        FROM claimed
        UNION ALL
        SELECT 'held', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            rate_key,
            min(rate_next),
            NULL, NULL, NULL
        FROM counted WHERE rate_free <= 0 AND rate_next IS NOT NULL GROUP BY rate_key
        UNION ALL
        SELECT 'verdict', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL,
            CASE WHEN v_released >= 10000 THEN extract(epoch FROM now())::float8
                 ELSE (SELECT extract(epoch FROM min(held_until))::float8 FROM {schema}.jobs) END,
            (SELECT walk FROM verdict),
            (SELECT count(*) FROM chosen) < p_limit AND EXISTS (SELECT 1 FROM last),
            EXISTS (SELECT 1 FROM limited) OR cardinality(p_held) > 0;
END
$$;
