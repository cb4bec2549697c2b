-- A job's end is counted on those that wait for it by the transaction that ends it (and
-- taken back by the one that reopens it), once per transition, so edges are no longer
-- written as they are counted: an edge's dependency has ended if its row says so (or is
-- gone: then `ended` keeps how it ended, written as its row goes). Marking each edge was most
-- of what settling a fan-in's member cost. Both signatures of `settle` keep their meaning
-- for their callers (workers of the releases before included): count the jobs of `ids` that
-- this transaction ended.
-- Settling reads the edges to the jobs that ended by migration 0017's index on dependency_id.

-- Each job's counts as its dependencies' rows now give them. They differ from the stored
-- ones only where a job that others had counted as ended was retried on its own: it is
-- waited for again, as a retry now does.
UPDATE {schema}.jobs AS j SET
    waiting_on = c.waiting_on, failed_dependencies = c.failed
FROM (SELECT e.job_id,
          count(*) FILTER (WHERE coalesce(d.state, e.ended, 'cancelled')
                                 NOT IN ('completed', 'failed', 'cancelled', 'skipped'))::int
              AS waiting_on,
          count(*) FILTER (WHERE coalesce(d.state, e.ended, 'cancelled')
                                 IN ('failed', 'cancelled', 'skipped'))::int AS failed
      FROM {schema}.dependencies AS e LEFT JOIN {schema}.jobs AS d ON d.id = e.dependency_id
      GROUP BY e.job_id) AS c
WHERE j.id = c.job_id AND (j.waiting_on, j.failed_dependencies) <> (c.waiting_on, c.failed);

-- Count ends on edges: each of `dependents` waits for one that ended in the state at the
-- same place of `states`. Each dependent is locked (in id order) before its counts are read,
-- and moved as dependency_rules.py says if it is waiting; the edges to those that end are
-- counted in turn, level by level. Rows: every dependent that moved, with its new state.
CREATE FUNCTION {schema}.count_ends(
    dependents text[], states text[], failed_type text, none_failed text,
    finished_channel text, work_channel text
) RETURNS TABLE (id text, state text) LANGUAGE plpgsql AS $$
DECLARE
    pair_ids text[] := dependents;
    pair_states text[] := states;
    moved_ids text[];
    moved_states text[];
BEGIN
    WHILE cardinality(pair_ids) > 0 LOOP
        WITH counted AS (
            SELECT c.job_id, count(*)::int AS n,
                count(*) FILTER (WHERE c.ended <> 'completed')::int AS failed
            FROM unnest(pair_ids, pair_states) AS c(job_id, ended) GROUP BY c.job_id
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
        -- The edges to the dependents that ended: the next level.
        SELECT coalesce(array_agg(d.job_id), '{}'), coalesce(array_agg(s.state), '{}')
        INTO pair_ids, pair_states
        FROM unnest(moved_ids, moved_states) AS s(id, state)
        JOIN {schema}.dependencies AS d ON d.dependency_id = s.id
        WHERE s.state IN ('completed', 'failed', 'cancelled', 'skipped')
          AND d.dependency_id = ANY(moved_ids);
    END LOOP;
END
$$;

-- Count the jobs of `ids` that this transaction ended on every edge to them, taking their
-- states from `states` (in the same order) or, if NULL, from their rows (a job whose row is
-- gone ended as cancelled); then `count_ends`.
CREATE OR REPLACE FUNCTION {schema}.settle(
    ids text[], states text[], failed_type text, none_failed text, finished_channel text,
    work_channel text
) RETURNS TABLE (id text, state text) LANGUAGE plpgsql AS $$
DECLARE
    ended_ids text[];
    ended_states text[];
    pair_ids text[];
    pair_states text[];
BEGIN
    IF states IS NULL THEN
        SELECT coalesce(array_agg(e.id), '{}'),
               coalesce(array_agg(coalesce(j.state, 'cancelled')), '{}')
        INTO ended_ids, ended_states
        FROM unnest(ids) AS e(id) LEFT JOIN {schema}.jobs AS j ON j.id = e.id
        WHERE j.id IS NULL OR j.state IN ('completed', 'failed', 'cancelled', 'skipped');
    ELSE
        SELECT coalesce(array_agg(e.id), '{}'), coalesce(array_agg(e.state), '{}')
        INTO ended_ids, ended_states
        FROM unnest(ids, states) AS e(id, state)
        WHERE e.state IN ('completed', 'failed', 'cancelled', 'skipped');
    END IF;
    SELECT coalesce(array_agg(d.job_id), '{}'), coalesce(array_agg(s.state), '{}')
    INTO pair_ids, pair_states
    FROM unnest(ended_ids, ended_states) AS s(id, state)
    JOIN {schema}.dependencies AS d ON d.dependency_id = s.id
    WHERE d.dependency_id = ANY(ended_ids);
    RETURN QUERY SELECT * FROM {schema}.count_ends(
        pair_ids, pair_states, failed_type, none_failed, finished_channel, work_channel);
END
$$;
