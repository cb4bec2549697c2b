"""JobHandle: what enqueue returns; follows one job to its result."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from ..errors import JobCancelled, JobFailed, JobNotFound, JobSkipped
from ..models import EnqueueResult, Job, JobState
from .runtime import Runtime

R = TypeVar("R")


class HandleHost(Protocol):
    """What a handle uses of the app: its runtime, job reads, cancel and result types."""

    @property
    def runtime(self) -> Runtime: ...

    async def get_async(self, job_id: str) -> Job: ...

    async def wait_finished_async(self, job_id: str, timeout: float | None = None) -> Job: ...

    def load_result(self, name: str, data: Any) -> Any: ...

    def cancel(self, job_id: str) -> Job: ...

    async def cancel_async(self, job_id: str) -> Job: ...


class JobHandle(Generic[R]):
    """A reference to a stored job. `state` reads the database; `result()` waits for the end."""

    def __init__(self, app: HandleHost, job: Job | EnqueueResult, *, joined: bool = False) -> None:
        self._app = app
        self.id = job.id
        self.name = job.name
        self.joined = joined
        #: An enqueue's result builds its `Job` only when the handle's job is first read.
        self._last = job

    def __repr__(self) -> str:
        return f"<JobHandle {self.name} {self.id} {self._last.state.value}>"

    @property
    def job(self) -> Job:
        """The job as last read (by enqueue, `refresh` or a wait)."""
        last = self._last
        return last if isinstance(last, Job) else last.job

    @property
    def skipped(self) -> bool:
        return self._last.state is JobState.SKIPPED

    @property
    def duplicate_of(self) -> str | None:
        """For a skipped request: the id of the active job that caused the skip."""
        return self.job.duplicate_of

    @property
    def state(self) -> JobState:
        """The job's current state, read from the database."""
        return self.refresh().state

    def refresh(self) -> Job:
        return self._app.runtime.call(self.refresh_async())

    async def refresh_async(self) -> Job:
        job = await self._app.get_async(self.id)
        self._last = job
        return job

    def result(self, timeout: float | None = None) -> R:
        """Block until the job ends; return its typed result or raise why it did not complete."""
        return self._app.runtime.call(self.wait(timeout))

    async def wait(self, timeout: float | None = None) -> R:
        """Await the job's end; return its typed result or raise why it did not complete."""
        job = await self._app.wait_finished_async(self.id, timeout)
        self._last = job
        return self._outcome(job)

    def _outcome(self, job: Job) -> R:
        if job.state is JobState.COMPLETED:
            value: R = self._app.load_result(job.name, job.result)
            return value
        if job.state is JobState.SKIPPED:
            raise JobSkipped(job.id, job.skip_reason or "a duplicate was active")
        if job.state is JobState.CANCELLED:
            raise JobCancelled(job.id)
        if job.state is JobState.FAILED:
            error = job.error
            if error is None:
                raise JobFailed(job.id, "Error", "failed without a recorded error")
            raise JobFailed(job.id, error.type, error.message, error.traceback)
        raise JobNotFound(job.id)

    def cancel(self) -> Job:
        job = self._last = self._app.cancel(self.id)
        return job

    async def cancel_async(self) -> Job:
        job = self._last = await self._app.cancel_async(self.id)
        return job
