-- Job lists read newest first a page at a time (the dashboard's list and searches, a bulk
-- action walking the jobs a filter matches, by position). Without an index on seq each page
-- sorted every job the filter matched, which grows with the table; with it a page reads its
-- own rows. It costs each new version of a job's row one more index entry.
CREATE INDEX jobs_seq ON {schema}.jobs (seq);
