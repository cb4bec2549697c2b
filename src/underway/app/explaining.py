"""JobExplanations: the part of an App that says why a job is not running."""

from __future__ import annotations

from ..backends.base import LIVE_WORKER_S
from ..errors import JobNotFound
from ..explanations import Explanation
from .runtime import Runtime
from .storage import Storage


class JobExplanations:
    """What holds a waiting job (its time, a paused queue, a full limit, no live worker...),
    or what a job that is not waiting does instead. `App` gives the runtime and the storage."""

    runtime: Runtime
    _storage: Storage

    def explain(self, job_id: str, stale_after: float = LIVE_WORKER_S) -> Explanation:
        """Every hold on the job, most fundamental first; JobNotFound for an unknown id."""
        return self.runtime.call(self.explain_async(job_id, stale_after))

    async def explain_async(self, job_id: str, stale_after: float = LIVE_WORKER_S) -> Explanation:
        found = await self._storage.call(lambda b: b.blockers(job_id, stale_after))
        if found is None:
            raise JobNotFound(job_id)
        return found
