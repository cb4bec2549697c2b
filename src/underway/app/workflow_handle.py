"""WorkflowHandle: what starting a workflow or batch returns; follows it to its end."""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..errors import WorkflowWaitTimeout
from ..models import Job
from ..workflow_models import Workflow
from .runtime import Runtime

#: A wait reads the workflow this often at first, then less often, up to MAX_POLL_S.
FIRST_POLL_S = 0.02
MAX_POLL_S = 0.5


class WorkflowHost(Protocol):
    """What a workflow handle uses of the app."""

    @property
    def runtime(self) -> Runtime: ...

    async def workflow_status_async(self, workflow_id: str) -> Workflow: ...

    async def workflow_jobs_async(self, workflow_id: str) -> list[Job]: ...

    async def cancel_workflow_async(self, workflow_id: str) -> Workflow: ...

    async def retry_workflow_async(self, workflow_id: str) -> Workflow: ...


class WorkflowHandle:
    """A stored workflow or batch: its status (members counted per state), its jobs, and
    cancel, retry and wait. Sync methods block; `*_async` twins await."""

    def __init__(self, app: WorkflowHost, workflow: Workflow) -> None:
        self._app = app
        self.id = workflow.id
        self.name = workflow.name
        self.kind = workflow.kind
        self._last = workflow

    def __repr__(self) -> str:
        return f"<WorkflowHandle {self.kind} {self.id} {self._last.state}>"

    def status(self) -> Workflow:
        """The workflow as stored now: counts per state, progress, state."""
        return self._app.runtime.call(self.status_async())

    async def status_async(self) -> Workflow:
        self._last = await self._app.workflow_status_async(self.id)
        return self._last

    def jobs(self) -> list[Job]:
        """Its members, in the order they were stored."""
        return self._app.runtime.call(self._app.workflow_jobs_async(self.id))

    async def jobs_async(self) -> list[Job]:
        return await self._app.workflow_jobs_async(self.id)

    def cancel(self) -> Workflow:
        """Cancel members that have not started; ask running ones to stop."""
        return self._app.runtime.call(self.cancel_async())

    async def cancel_async(self) -> Workflow:
        self._last = await self._app.cancel_workflow_async(self.id)
        return self._last

    def retry(self) -> Workflow:
        """Run again what failed or was cancelled (and what waits on it)."""
        return self._app.runtime.call(self.retry_async())

    async def retry_async(self) -> Workflow:
        self._last = await self._app.retry_workflow_async(self.id)
        return self._last

    def wait(self, timeout: float | None = None) -> Workflow:
        """Block until no member can run any more; the workflow as it ended."""
        return self._app.runtime.call(self.wait_async(timeout))

    async def wait_async(self, timeout: float | None = None) -> Workflow:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = FIRST_POLL_S
        while (workflow := await self.status_async()).state == "active":
            if deadline is not None and loop.time() >= deadline:
                raise WorkflowWaitTimeout(self.id, timeout or 0.0, workflow.ended, workflow.total)
            pause = delay if deadline is None else min(delay, max(0.0, deadline - loop.time()))
            await asyncio.sleep(pause)
            delay = min(MAX_POLL_S, delay * 2)
        return workflow
