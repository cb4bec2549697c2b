-- settle takes the states of the jobs it settles when its caller knows them (`states`, in
-- the order of `ids`; NULL: read each job's row, as before). A finish knows the states it
-- wrote, and reading each job again by its id to learn whether it had ended was about a
-- third of settling a fan-in's members. The levels after the first take the states the
-- function itself wrote. The function is otherwise 0018's; 0018's signature stays, for
-- workers of the release before, and calls this one with its states to read.
CREATE FUNCTION {schema}.settle(
    ids text[], states text[], failed_type text, none_failed text, finished_channel text,
    work_channel text
) RETURNS TABLE (id text, state text) LANGUAGE plpgsql AS $$
DECLARE
    level text[] := ids;
    level_states text[] := states;
    ended_ids text[];
    ended_states text[];
    moved_ids text[];
    moved_states text[];
BEGIN
    WHILE cardinality(level) > 0 LOOP
        IF level_states IS NULL THEN
            SELECT coalesce(array_agg(e.id), '{}'),
                   coalesce(array_agg(coalesce(j.state, 'cancelled')), '{}')
            INTO ended_ids, ended_states
            FROM unnest(level) AS e(id) LEFT JOIN {schema}.jobs AS j ON j.id = e.id
            WHERE j.id IS NULL OR j.state IN ('completed', 'failed', 'cancelled', 'skipped');
        ELSE
            SELECT coalesce(array_agg(e.id), '{}'), coalesce(array_agg(e.state), '{}')
            INTO ended_ids, ended_states
            FROM unnest(level, level_states) AS e(id, state)
            WHERE e.state IN ('completed', 'failed', 'cancelled', 'skipped');
        END IF;

        WITH marked AS (
            UPDATE {schema}.dependencies AS d SET ended = s.state
            FROM unnest(ended_ids, ended_states) AS s(id, state)
            WHERE d.dependency_id = ANY(ended_ids) AND d.dependency_id = s.id
              AND d.ended IS NULL
            RETURNING d.job_id, d.ended
        ),
        counted AS (
            SELECT c.job_id, count(*)::int AS n,
                count(*) FILTER (WHERE c.ended <> 'completed')::int AS failed
            FROM marked AS c GROUP BY c.job_id
        ),
        decided AS (
            SELECT w.id, w.state = 'waiting' AS moves, w.waiting_on - c.n AS waiting_on,
                w.failed_dependencies + c.failed AS failed,
                CASE WHEN w.state <> 'waiting' THEN w.state
                     WHEN w.dependency_rule = 'completed'
                          AND w.failed_dependencies + c.failed > w.tolerate THEN 'cancelled'
                     WHEN w.waiting_on - c.n > 0 THEN 'waiting'
                     WHEN w.dependency_rule = 'failed' AND w.failed_dependencies + c.failed = 0
                          THEN 'skipped'
                     WHEN w.run_at > clock_timestamp() THEN 'scheduled'
                     ELSE 'pending' END AS state
            FROM {schema}.jobs AS w JOIN counted AS c ON c.job_id = w.id
            WHERE w.id = ANY(ARRAY(SELECT counted.job_id FROM counted))
            ORDER BY w.id
            FOR NO KEY UPDATE OF w
        ),
        moved AS (
            UPDATE {schema}.jobs AS w SET
                waiting_on = v.waiting_on,
                failed_dependencies = v.failed,
                state = v.state,
                error = CASE WHEN v.moves AND v.state = 'cancelled'
                             THEN jsonb_build_object('type', failed_type,
                                 'message', v.failed
                                            || ' of the jobs it depends on did not complete'
                                            || ' (it tolerates ' || w.tolerate || ')',
                                 'traceback', '', 'attempt', w.attempt,
                                 'at', extract(epoch FROM now())::float8)
                             ELSE w.error END,
                skip_reason = CASE WHEN v.moves AND v.state = 'skipped' THEN none_failed
                                   ELSE w.skip_reason END,
                finished_at = CASE WHEN v.moves AND v.state IN ('cancelled', 'skipped')
                                   THEN now() ELSE w.finished_at END,
                expires_at = CASE WHEN v.moves AND v.state IN ('cancelled', 'skipped')
                                  THEN now() + make_interval(secs => w.retention_s)
                                  ELSE w.expires_at END
            FROM decided AS v
            WHERE w.id = v.id AND w.id = ANY(ARRAY(SELECT decided.id FROM decided))
            RETURNING w.id, w.state, w.queue, v.moves AND v.state <> 'waiting' AS moved
        ),
        told AS (SELECT pg_notify(finished_channel, string_agg(e.id, ','))
                 FROM (SELECT m.id, (row_number() OVER ()) / 150 AS part FROM moved AS m
                       WHERE m.moved AND m.state IN ('cancelled', 'skipped')) AS e
                 GROUP BY e.part),
        woken AS (SELECT pg_notify(work_channel, r.queue)
                  FROM (SELECT DISTINCT m.queue FROM moved AS m
                        WHERE m.moved AND m.state = 'pending') AS r)
        SELECT coalesce(array_agg(m.id), '{}'), coalesce(array_agg(m.state), '{}')
        INTO moved_ids, moved_states
        FROM moved AS m, (SELECT count(*) FROM told) AS t, (SELECT count(*) FROM woken) AS k
        WHERE m.moved;

        RETURN QUERY SELECT * FROM unnest(moved_ids, moved_states);
        -- Dependents that ended are settled in turn: the next level.
        SELECT coalesce(array_agg(e.id), '{}'), coalesce(array_agg(e.state), '{}')
        INTO level, level_states
        FROM unnest(moved_ids, moved_states) AS e(id, state)
        WHERE e.state IN ('completed', 'failed', 'cancelled', 'skipped');
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION {schema}.settle(
    ids text[], failed_type text, none_failed text, finished_channel text, work_channel text
) RETURNS TABLE (id text, state text) LANGUAGE sql AS $$
    SELECT * FROM {schema}.settle(ids, NULL::text[], failed_type, none_failed,
                                  finished_channel, work_channel)
$$;
