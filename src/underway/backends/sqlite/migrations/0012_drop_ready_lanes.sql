-- Ready jobs per lane: no statement reads them by lane any more (claims read the laned ready
-- index in claim order and count running jobs per lane on their own index), and each laned
-- job's enqueue and claim wrote to it.
DROP INDEX underway_jobs_ready_lanes;
