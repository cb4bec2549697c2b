"""The history's rules: buckets of finished jobs, hours of minutes, percentiles."""

from __future__ import annotations

from underway.backends import history_rules as rules
from underway.backends.history_rules import FinishedJob


def job(seq: int, finished_at: float, started_at: float | None = 100.0) -> FinishedJob:
    return FinishedJob(seq, "default", "send", "completed", 99.0, started_at, finished_at)


def test_a_job_counts_in_the_minute_it_finished_with_its_duration_and_wait() -> None:
    tallies = rules.fold([job(1, 130.5), job(2, 179.0, started_at=None), job(3, 181.0)])

    first = tallies[(60, 120, "default", "send", "completed")]
    assert (first.runs, first.timed) == (2, 1)
    assert first.durations[rules.histogram_slot(30.5)] == 1
    assert first.waits[rules.histogram_slot(1.0)] == 1
    assert tallies[(60, 180, "default", "send", "completed")].runs == 1


def test_minutes_add_up_into_their_hour() -> None:
    minutes = rules.fold([job(1, 3600 + 5), job(2, 3600 * 2 - 1), job(3, 3600 * 2 + 1)])

    hours = rules.coarsen(minutes.items())

    assert {key[1]: tally.runs for key, tally in hours.items()} == {3600: 2, 7200: 1}


def test_only_jobs_past_the_watermark_are_unfolded() -> None:
    jobs = [job(1, 10.0), job(2, 10.0), job(3, 11.0)]
    assert [j.seq for j in rules.unfolded(jobs, 10.0, 1)] == [2, 3]


def test_percentiles_read_the_upper_bound_of_their_bucket() -> None:
    histogram = [0] * len(rules.HISTOGRAM_BOUNDS_S) + [0]
    histogram[rules.histogram_slot(0.004)] = 90
    histogram[rules.histogram_slot(1.5)] = 10

    assert rules.percentile(histogram, 0.5) == 0.005
    assert rules.percentile(histogram, 0.95) == 2.0
    assert rules.percentile([0] * len(histogram), 0.5) is None


def test_reads_add_up_minutes_within_a_day_and_hours_beyond() -> None:
    assert (rules.span_for_step(60), rules.span_for_step(600)) == (60, 60)
    assert (rules.span_for_step(3600), rules.span_for_step(21600)) == (3600, 3600)
    assert rules.span_for_range(0, 900) == 60
    assert rules.span_for_range(0, 7 * 86400) == 3600
