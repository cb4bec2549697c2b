"""WorkflowControls: the part of an App that starts workflows and batches and follows them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, cast

from ..backends.base import Backend
from ..errors import ConfigurationError, WorkflowNotFound
from ..models import DependencyRule, Job
from ..workflow_models import Workflow, WorkflowPage
from .enqueue_options import EnqueueOptions
from .enqueueing import Enqueuer
from .handle import HandleHost, JobHandle
from .registry import JobRef, JobRegistry
from .runtime import Runtime
from .storage import Storage
from .workflow_handle import WorkflowHandle
from .workflows import Part, Step, WorkflowJobs, batch_members


class WorkflowControls(JobRegistry):
    """Start a workflow (`app.start(chain(...))`) or a batch, all its jobs stored in one
    transaction, and read, cancel and retry it. Sync methods block; `*_async` twins await."""

    runtime: Runtime
    _storage: Storage
    _enqueuer: Enqueuer
    inline: bool
    _draining: bool

    async def _drain_inline(self) -> None: ...

    def step(
        self,
        job: JobRef,
        args: Mapping[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        run_if: DependencyRule = "completed",
        tolerate: int = 0,
        results_into: str | None = None,
    ) -> Step[Any]:
        """A step of the job named `job` (for callers that have names, not job objects,
        such as the HTTP API), validated now; `job.step(...)` is the typed way."""
        definition = self.definition(job)
        options = EnqueueOptions(
            priority=priority,
            queue=queue,
            run_if=run_if,
            tolerate=tolerate,
            results_into=results_into,
        )
        data = definition.validate(dict(args or {}), results_into)
        return Step(definition, data, options)

    def start(self, flow: Part, *, name: str | None = None) -> WorkflowHandle:
        """Store a workflow (a step, `chain(...)` or `group(...)`) and start it: its first
        jobs are ready at once, the others wait for what comes before them."""
        return self.runtime.call(self.start_async(flow, name=name))

    async def start_async(self, flow: Part, *, name: str | None = None) -> WorkflowHandle:
        jobs = WorkflowJobs("workflow", name)
        jobs.add(flow)
        return await self._store(jobs)

    def batch(
        self,
        members: Iterable[Step[Any]],
        *,
        on_complete: Step[Any] | None = None,
        on_success: Step[Any] | None = None,
        on_failure: Step[Any] | None = None,
        name: str | None = None,
    ) -> WorkflowHandle:
        """Store jobs as a batch with callbacks, each enqueued exactly once when the last
        member ends: `on_complete` whatever happened, `on_success` if all completed,
        `on_failure` if one or more did not. A callback given `results_into` receives the
        batch's `BatchSummary`. Members may add jobs to it (`app.add_to_batch`)."""
        return self.runtime.call(
            self.batch_async(
                members,
                on_complete=on_complete,
                on_success=on_success,
                on_failure=on_failure,
                name=name,
            )
        )

    async def batch_async(
        self,
        members: Iterable[Step[Any]],
        *,
        on_complete: Step[Any] | None = None,
        on_success: Step[Any] | None = None,
        on_failure: Step[Any] | None = None,
        name: str | None = None,
    ) -> WorkflowHandle:
        jobs = WorkflowJobs("batch", name)
        for member in batch_members(jobs.workflow.id, members):
            jobs.jobs.append(member)
        if not jobs.jobs:
            raise ConfigurationError("a batch needs at least one member")
        ids = [job.id for job in jobs.jobs]
        callbacks: list[tuple[Step[Any] | None, DependencyRule]] = [
            (on_complete, "ended"),
            (on_success, "completed"),
            (on_failure, "failed"),
        ]
        for step, rule in callbacks:
            if step is not None:
                jobs.callback(step, rule, ids)
        return await self._store(jobs)

    def add_to_batch(self, batch_id: str, members: Iterable[Step[Any]]) -> list[JobHandle[Any]]:
        """Add jobs to a batch that has not ended (from one of its running members, whose
        `ctx.workflow_id` is the batch's id): its callbacks wait for them too."""
        return self.runtime.call(self.add_to_batch_async(batch_id, members))

    async def add_to_batch_async(
        self, batch_id: str, members: Iterable[Step[Any]]
    ) -> list[JobHandle[Any]]:
        jobs = self._enqueuer.prepared(batch_members(batch_id, members))
        stored = await self._storage.call(lambda b: b.add_to_batch(batch_id, jobs))
        await self._run_inline()
        host = cast(HandleHost, self)
        return [JobHandle(host, result) for result in stored]

    def workflow(self, workflow_id: str) -> WorkflowHandle:
        """A handle on a stored workflow or batch; WorkflowNotFound if there is none."""
        return self.runtime.call(self.workflow_async(workflow_id))

    async def workflow_async(self, workflow_id: str) -> WorkflowHandle:
        return WorkflowHandle(self, await self.workflow_status_async(workflow_id))

    def workflows(self, limit: int = 50, offset: int = 0) -> WorkflowPage:
        """Workflows and batches, newest first, with their members counted per state."""
        return self.runtime.call(self.workflows_async(limit, offset))

    async def workflows_async(self, limit: int = 50, offset: int = 0) -> WorkflowPage:
        return await self._storage.call(lambda b: b.list_workflows(limit, offset))

    async def workflow_status_async(self, workflow_id: str) -> Workflow:
        found = await self._storage.call(lambda b: b.get_workflow(workflow_id))
        if found is None:
            raise WorkflowNotFound(workflow_id)
        return found

    async def workflow_jobs_async(self, workflow_id: str) -> list[Job]:
        await self.workflow_status_async(workflow_id)
        return await self._storage.call(lambda b: b.workflow_jobs(workflow_id))

    async def waits_for_async(self, jobs: Iterable[Job]) -> dict[str, tuple[str, ...]]:
        """The ids each of these jobs waits for, in the order given at enqueue, read in one
        storage call (one query per job that waits: the dashboard caches what it shows);
        a job that waits for nothing is left out."""
        waiting = [job.id for job in jobs if job.dependency_rule is not None]

        async def read(backend: Backend) -> dict[str, tuple[str, ...]]:
            found = await asyncio.gather(*(backend.dependencies(i) for i in waiting))
            return {
                i: tuple(o.job_id for o in outcomes)
                for i, outcomes in zip(waiting, found, strict=True)
            }

        return await self._storage.call(read)

    async def cancel_workflow_async(self, workflow_id: str) -> Workflow:
        return await self._storage.call(lambda b: b.cancel_workflow(workflow_id))

    async def retry_workflow_async(self, workflow_id: str) -> Workflow:
        return await self._storage.call(lambda b: b.retry_workflow(workflow_id))

    async def _store(self, jobs: WorkflowJobs) -> WorkflowHandle:
        workflow, rows = jobs.workflow, self._enqueuer.prepared(jobs.jobs)
        await self._storage.call(lambda b: b.start_workflow(workflow, rows))
        await self._run_inline()
        return await self.workflow_async(workflow.id)

    async def _run_inline(self) -> None:
        """In inline mode (tests), run what was just stored before returning."""
        if self.inline and not self._draining:
            await self.runtime.call_async(self._drain_inline())
