-- Settling writes each edge once, when the job it waits for ends. Its index by dependency now
-- holds every edge, not only those still waiting, so that no index names the column that
-- changes (ended); and each page keeps room for a row's new version beside it: the write is
-- then a heap-only update, with no index entry to add. (Before, each one added an entry to
-- the primary key.) A job that nobody waits on still costs one probe that finds nothing.
DROP INDEX {schema}.dependencies_waiting;
CREATE INDEX dependencies_by_dependency ON {schema}.dependencies (dependency_id);
ALTER TABLE {schema}.dependencies SET (fillfactor = 50);
