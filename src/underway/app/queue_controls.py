"""QueueControls: the part of an App that pauses, resumes and shows its queues."""

from __future__ import annotations

import builtins

from ..backends.base import LIVE_WORKER_S
from ..errors import QueueNotFound
from ..models import QueueInfo
from .registry import JobRegistry
from .runtime import Runtime
from .storage import Storage


class QueueControls(JobRegistry):
    """Pause and resume queues, and show each with its limits, jobs and workers. A queue
    exists when a job or `app.queue` declares it, a stored job is in it, or it is stored
    (paused, or limited by a worker). Sync methods block; `*_async` twins await."""

    runtime: Runtime
    _storage: Storage

    def pause_queue(self, name: str, by: str | None = None) -> QueueInfo:
        """Stop workers claiming the queue's jobs (running ones finish); `by` says who did.
        A queue not deployed yet may be paused."""
        return self.runtime.call(self.pause_queue_async(name, by))

    async def pause_queue_async(self, name: str, by: str | None = None) -> QueueInfo:
        return await self._storage.call(lambda b: b.pause_queue(name, by))

    def resume_queue(self, name: str) -> QueueInfo:
        """Let workers claim the queue's jobs again; QueueNotFound for a queue nobody knows."""
        return self.runtime.call(self.resume_queue_async(name))

    async def resume_queue_async(self, name: str) -> QueueInfo:
        try:
            return await self._storage.call(lambda b: b.resume_queue(name))
        except QueueNotFound:
            if name in self.queues():
                return QueueInfo(name)
            raise

    def queues_info(self, stale_after: float = LIVE_WORKER_S) -> builtins.list[QueueInfo]:
        """Every queue by name, with its limits, pause, jobs and the live workers serving it
        (those that heartbeat within `stale_after` seconds)."""
        return self.runtime.call(self.queues_info_async(stale_after))

    async def queues_info_async(
        self, stale_after: float = LIVE_WORKER_S
    ) -> builtins.list[QueueInfo]:
        stored = await self._storage.call(lambda b: b.list_queues(stale_after))
        known = {info.name for info in stored}
        declared = [QueueInfo(name) for name in self.queues() if name not in known]
        return sorted([*stored, *declared], key=lambda info: info.name)

    def queue_info(self, name: str, stale_after: float = LIVE_WORKER_S) -> QueueInfo:
        """One queue as `queues_info` shows it; QueueNotFound for a queue nobody knows."""
        return self.runtime.call(self.queue_info_async(name, stale_after))

    async def queue_info_async(self, name: str, stale_after: float = LIVE_WORKER_S) -> QueueInfo:
        found = await self._storage.call(lambda b: b.get_queue(name, stale_after))
        if found is not None:
            return found
        if name in self.queues():
            return QueueInfo(name)
        raise QueueNotFound(name)
