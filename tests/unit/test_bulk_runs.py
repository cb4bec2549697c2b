"""A bulk run's walk in batches and its end, against a fake app (no database)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from underway.app.bulk import BulkTally, run_bulk
from underway.errors import StorageUnavailable
from underway.models import BulkAction, Job, JobFilter, JobPage, JobState
from underway.web.bulk_runs import BulkRuns


@dataclass
class FakeApp:
    """Jobs at positions 1..n, newest first; the even ones change, the odd ones may not."""

    n: int
    batches: list[list[str]] = field(default_factory=list)
    fail: bool = False

    async def list_page_async(self, query: JobFilter) -> JobPage:
        if self.fail:
            raise StorageUnavailable("the database is down")
        top = min(self.n + 1, int(query.before or self.n + 1))
        positions = list(range(top - 1, max(0, top - 1 - query.limit), -1))
        jobs = [job(p) for p in positions]
        full = len(positions) == query.limit and positions[-1] > 1
        more = str(positions[-1]) if full else None
        return JobPage(jobs=jobs, total=self.n if query.count else len(jobs), next_before=more)

    async def apply_to_many_async(self, action: BulkAction, job_ids: list[str]) -> list[str]:
        self.batches.append(job_ids)
        return [job_id for job_id in job_ids if int(job_id) % 2 == 0]


def job(position: int) -> Job:
    now = datetime.now(UTC)
    return Job(str(position), "task", "default", 0, JobState.FAILED, {}, 1, 1, now, now)


async def test_a_walk_changes_every_match_one_batch_at_a_time() -> None:
    app = FakeApp(250)
    tally = BulkTally()

    await run_bulk(app, "retry", JobFilter(states=(JobState.FAILED,)), tally)

    assert [len(batch) for batch in app.batches] == [100, 100, 50]
    assert app.batches[0][0] == "250"
    assert app.batches[-1][-1] == "1"
    assert (tally.done, tally.skipped) == (125, 125)


async def test_a_run_counts_first_and_a_failing_one_stops_and_says_why() -> None:
    runs = BulkRuns()
    done = runs.start(FakeApp(3), "cancel", JobFilter(), "tester")
    failed = runs.start(FakeApp(3, fail=True), "delete", JobFilter(), "tester")

    async def ended() -> None:
        # Polled: a run tells its end only through its fields, which the pages read.
        while not (done.finished and failed.finished):  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    await asyncio.wait_for(ended(), timeout=5)
    assert (done.matched, done.tally.done, done.tally.skipped, done.error) == (3, 1, 2, None)
    assert failed.error == "StorageUnavailable: the database is down"
    assert runs.get(done.id) is done
    assert runs.get("nope") is None
