"""JobContext: what a running job sees of the system (progress, logs, cancellation, resources)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, Protocol

from .models import Lease, LogEntry


class ProgressSink(Protocol):
    """Where a context sends progress and log lines; the worker batches them to the database."""

    def set_progress(self, lease: Lease, percent: float, message: str | None) -> None: ...

    def add_log(self, lease: Lease, entry: LogEntry) -> None: ...


class JobContext:
    """Given to a job whose first parameter is annotated `JobContext`. Safe to use from threads."""

    def __init__(
        self,
        *,
        lease: Lease,
        name: str,
        args: dict[str, Any],
        max_attempts: int,
        sink: ProgressSink,
        resources: Any = None,
    ) -> None:
        self.lease = lease
        self.name = name
        self.args = args
        self.max_attempts = max_attempts
        self.resources = resources
        self.scope: Any = None
        self._sink = sink
        self._cancelled = threading.Event()
        self.cancel_reason: str | None = None

    @property
    def job_id(self) -> str:
        return self.lease.job_id

    @property
    def attempt(self) -> int:
        return self.lease.attempt

    @property
    def cancelled(self) -> bool:
        """True once cancellation was requested (by a user, a timeout or shutdown)."""
        return self._cancelled.is_set()

    def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress between 0 and 100, optionally with a short status message."""
        self._sink.set_progress(self.lease, max(0.0, min(100.0, float(percent))), message)

    def log(self, message: str, level: str = "info") -> None:
        """Append a timestamped line to the job's log."""
        self._sink.add_log(
            self.lease, LogEntry(at=datetime.now(UTC), message=str(message), level=level)
        )

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block (in a sync job) until cancellation is requested or the timeout passes."""
        return self._cancelled.wait(timeout)

    def request_cancel(self, reason: str) -> None:
        """Mark the run as cancelled; called by the worker, not by jobs."""
        if not self._cancelled.is_set():
            self.cancel_reason = reason
            self._cancelled.set()
