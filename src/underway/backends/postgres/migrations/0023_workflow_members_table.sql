-- A workflow's members are listed by a table of their own instead of by an index on jobs: a
-- member's finish writes a new version of its row (state is in the claim indexes'
-- conditions), and every index on jobs whose condition the new version meets takes an entry
-- for it, which a plain job's finish does not pay. A row is keyed by its job's seq; the
-- index by workflow orders a workflow's members as stored and holds their ids, so that they
-- are read from it alone. Triggers keep the list in step with the jobs on every path that
-- stores or deletes one, a worker's of the release before included; a plain job pays only
-- their conditions.
CREATE TABLE {schema}.workflow_members (
    seq         bigint PRIMARY KEY,
    workflow_id text NOT NULL,
    job_id      text NOT NULL
);
CREATE INDEX workflow_members_of ON {schema}.workflow_members (workflow_id, seq) INCLUDE (job_id);
INSERT INTO {schema}.workflow_members (seq, workflow_id, job_id)
SELECT seq, workflow_id, id FROM {schema}.jobs WHERE workflow_id IS NOT NULL;
DROP INDEX {schema}.jobs_workflow;

CREATE FUNCTION {schema}.list_workflow_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {schema}.workflow_members (seq, workflow_id, job_id)
    VALUES (NEW.seq, NEW.workflow_id, NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_list_workflow_member AFTER INSERT ON {schema}.jobs
FOR EACH ROW WHEN (NEW.workflow_id IS NOT NULL)
EXECUTE FUNCTION {schema}.list_workflow_member();

CREATE FUNCTION {schema}.unlist_workflow_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {schema}.workflow_members WHERE seq = OLD.seq;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_unlist_workflow_member AFTER DELETE ON {schema}.jobs
FOR EACH ROW WHEN (OLD.workflow_id IS NOT NULL)
EXECUTE FUNCTION {schema}.unlist_workflow_member();
