"""Buffers progress and log lines of running jobs and writes them in batches."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..backends.base import Backend
from ..models import Lease, LogEntry, ProgressUpdate
from .periodic import PeriodicService


@dataclass
class _Pending:
    lease: Lease
    progress: float | None = None
    message: str | None = None
    logs: list[LogEntry] = field(default_factory=list)
    dropped: int = 0


class ProgressBuffer:
    """Thread-safe buffer of progress and logs per lease (sync jobs write from threads)."""

    def __init__(self, batch_size: int, max_log_entries: int, on_full: Callable[[], None]) -> None:
        self._batch_size = batch_size
        self._max_log_entries = max_log_entries
        self._on_full = on_full
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._buffered_logs = 0

    def _entry(self, lease: Lease) -> _Pending:
        entry = self._pending.get(lease.job_id)
        if entry is None or entry.lease != lease:
            entry = self._pending[lease.job_id] = _Pending(lease)
        return entry

    def set_progress(self, lease: Lease, percent: float, message: str | None) -> None:
        with self._lock:
            entry = self._entry(lease)
            entry.progress = percent
            if message is not None:
                entry.message = message

    def add_log(self, lease: Lease, entry: LogEntry) -> None:
        with self._lock:
            pending = self._entry(lease)
            if len(pending.logs) >= self._max_log_entries:
                pending.dropped += 1
                return
            pending.logs.append(entry)
            self._buffered_logs += 1
            full = self._buffered_logs >= self._batch_size
        if full:
            self._on_full()

    def holds(self, job_id: str) -> bool:
        """Whether anything is buffered for this job (a dict lookup: safe without the lock)."""
        return job_id in self._pending

    def take(self, job_id: str | None = None) -> list[ProgressUpdate]:
        """Remove and return what is buffered, for one job or for all."""
        with self._lock:
            if job_id is None:
                taken = list(self._pending.values())
                self._pending.clear()
            else:
                one = self._pending.pop(job_id, None)
                taken = [one] if one is not None else []
            self._buffered_logs -= sum(len(p.logs) for p in taken)
        return [
            ProgressUpdate(p.lease, p.progress, p.message, tuple(p.logs), p.dropped) for p in taken
        ]

    def discard(self, job_id: str) -> None:
        self.take(job_id)


class ProgressFlusher(PeriodicService):
    """Writes buffered progress every `interval_s`, or at once when a batch is full."""

    name = "progress-flusher"

    def __init__(
        self,
        backend: Backend,
        interval_s: float,
        batch_size: int,
        max_log_entries: int,
        on_lost: Callable[[set[Lease]], None],
    ) -> None:
        super().__init__(interval_s)
        self._backend = backend
        self._max_log_entries = max_log_entries
        self._on_lost = on_lost
        self._writing = asyncio.Lock()
        loop = asyncio.get_running_loop()

        def wake_from_any_thread() -> None:
            loop.call_soon_threadsafe(self.wake)

        self.buffer = ProgressBuffer(batch_size, max_log_entries, wake_from_any_thread)

    async def tick(self) -> None:
        await self._write(None)

    def pending(self, job_id: str) -> bool:
        """Whether `flush(job_id)` has anything to write or to wait for: a batch being
        written may hold this job's earlier lines."""
        return self._writing.locked() or self.buffer.holds(job_id)

    async def flush(self, job_id: str) -> None:
        """Write what one job has buffered, before its outcome is recorded."""
        if self.pending(job_id):
            await self._write(job_id)

    async def _write(self, job_id: str | None) -> None:
        # Take and write under one lock: batches reach the database in the order they were
        # buffered, even where the backend runs transactions side by side (PostgreSQL).
        async with self._writing:
            updates = self.buffer.take(job_id)
            if not updates:
                return
            lost = await self._backend.save_progress(updates, self._max_log_entries)
        if lost:
            self._on_lost({u.lease for u in updates if u.lease.job_id in lost})
