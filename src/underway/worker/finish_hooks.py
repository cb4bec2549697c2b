"""Calling a job's on_success/on_failure and the app's on_finished hooks once it has ended."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ..backends.base import Backend
from ..jobs import JobDefinition
from ..models import Job, Outcome
from .host import WorkerHost

log = logging.getLogger("underway.worker")


async def run_finish_hooks(
    app: WorkerHost, backend: Backend, definition: JobDefinition | None, outcome: Outcome
) -> None:
    """Call the hooks that apply to how the job ended; a failing hook is logged, not raised."""
    if outcome.kind == "retry" or not app.finish_hooks(definition, None):
        return
    job = await backend.get(outcome.lease.job_id)
    if job is None or not job.state.is_finished:
        return
    for hook in app.finish_hooks(definition, job.state):
        await _call_hook(hook, job)


async def _call_hook(hook: Callable[[Job], Any], job: Job) -> None:
    try:
        if inspect.iscoroutinefunction(hook):
            await hook(job)
        else:
            await asyncio.to_thread(hook, job)
    except Exception:
        log.exception("hook %s failed for job %s", getattr(hook, "__name__", hook), job.id)
