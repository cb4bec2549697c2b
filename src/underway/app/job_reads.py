"""JobReads: the part of an App that reads and manages stored jobs by id."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from ..backends.base import LIVE_WORKER_S
from ..models import BulkAction, Job, JobFilter, JobPage, JobState, LogEntry, Stats, WorkerInfo
from . import queries
from .handle import JobHandle
from .registry import JobRegistry
from .runtime import Runtime
from .storage import Storage


class JobReads(JobRegistry):
    """Get, list, cancel, retry, delete and count jobs, read their logs and the workers.
    Sync methods block; `*_async` twins await. `App` gives the runtime and the storage."""

    runtime: Runtime
    _storage: Storage

    def get(self, job_id: str) -> Job:
        return self.runtime.call(self.get_async(job_id))

    async def get_async(self, job_id: str) -> Job:
        return await self._storage.call(lambda b: queries.get_job(b, job_id))

    def handle(self, job_id: str) -> JobHandle[Any]:
        """A handle for an existing job id."""
        return JobHandle(self, self.get(job_id))

    def list(
        self,
        state: JobState | str | Iterable[JobState | str] | None = None,
        name: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Job]:
        """Jobs, newest first, filtered by state(s), name and queue."""
        return self.list_page(queries.job_filter(state, name, queue, limit, offset)).jobs

    def list_page(self, query: JobFilter) -> JobPage:
        return self.runtime.call(self.list_page_async(query))

    async def list_page_async(self, query: JobFilter) -> JobPage:
        return await self._storage.call(lambda b: b.list_jobs(query))

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting job now; a running one is told to stop within a second."""
        return self.runtime.call(self.cancel_async(job_id))

    async def cancel_async(self, job_id: str) -> Job:
        return await self._storage.call(lambda b: b.cancel(job_id))

    def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again."""
        return self.runtime.call(self.retry_async(job_id))

    async def retry_async(self, job_id: str) -> Job:
        return await self._storage.call(lambda b: b.retry(job_id))

    def delete(self, job_id: str) -> None:
        """Cancel the job if it is active, then remove it, its result and its logs."""
        self.runtime.call(self.delete_async(job_id))

    async def delete_async(self, job_id: str) -> None:
        await self._storage.call(lambda b: queries.delete_job(b, job_id))

    def apply_to_many(self, action: BulkAction, job_ids: builtins.list[str]) -> builtins.list[str]:
        """Retry, cancel or delete these jobs in one transaction; returns the ids changed."""
        return self.runtime.call(self.apply_to_many_async(action, job_ids))

    async def apply_to_many_async(
        self, action: BulkAction, job_ids: builtins.list[str]
    ) -> builtins.list[str]:
        return await self._storage.call(lambda b: b.apply_to_many(action, job_ids))

    def stats(self) -> Stats:
        """Counts per state (e.g. how many run now) and recent throughput."""
        return self.runtime.call(self.stats_async())

    async def stats_async(self) -> Stats:
        return await self._storage.call(lambda b: b.stats())

    def logs(self, job_id: str, after: int = 0, limit: int = 1000) -> builtins.list[LogEntry]:
        return self.runtime.call(self.logs_async(job_id, after, limit))

    async def logs_async(
        self, job_id: str, after: int = 0, limit: int = 1000
    ) -> builtins.list[LogEntry]:
        return await self._storage.call(lambda b: b.logs(job_id, after, limit))

    def workers(self, stale_after: float = LIVE_WORKER_S) -> builtins.list[WorkerInfo]:
        return self.runtime.call(self.workers_async(stale_after))

    async def workers_async(self, stale_after: float = LIVE_WORKER_S) -> builtins.list[WorkerInfo]:
        return await self._storage.call(lambda b: b.list_workers(stale_after))

    async def wait_finished_async(self, job_id: str, timeout: float | None = None) -> Job:
        """Wait until the job is in a finished state and return it."""
        return await self._storage.call(lambda b: queries.wait_finished(b, job_id, timeout))
