-- A job's end is counted on those that wait for it by the transaction that ends it (and
-- taken back by the one that reopens it), once per transition, so edges are no longer
-- written as they are counted: an edge's dependency has ended if its row says so (or is
-- gone: then `ended` keeps how it ended, written as its row goes).
DROP INDEX underway_dependencies_waiting;
-- Settling reads the edges of the jobs that just ended by this index.
CREATE INDEX underway_dependencies_of ON underway_dependencies (dependency_id);
-- The jobs that wait for one that has not ended (whatever their own state): while there is
-- none, a finish has nothing to count.
CREATE INDEX underway_jobs_awaiting ON underway_jobs (waiting_on) WHERE waiting_on > 0;
-- Each job's counts as its dependencies' rows now give them. They differ from the stored
-- ones only where a job that others had counted as ended was retried on its own: it is
-- waited for again, as a retry now does.
UPDATE underway_jobs SET
    waiting_on = (SELECT count(*) FROM underway_dependencies AS edge
                  LEFT JOIN underway_jobs AS dependency ON dependency.id = edge.dependency_id
                  WHERE edge.job_id = underway_jobs.id
                    AND coalesce(dependency.state, edge.ended, 'cancelled')
                        NOT IN ('completed', 'failed', 'cancelled', 'skipped')),
    failed_dependencies = (SELECT count(*) FROM underway_dependencies AS edge
                           LEFT JOIN underway_jobs AS dependency
                               ON dependency.id = edge.dependency_id
                           WHERE edge.job_id = underway_jobs.id
                             AND coalesce(dependency.state, edge.ended, 'cancelled')
                                 IN ('failed', 'cancelled', 'skipped'))
WHERE dependency_rule IS NOT NULL;
