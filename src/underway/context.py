"""JobContext: what a running job sees of the system (progress, logs, cancellation, resources)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from .errors import Snooze
from .models import Lease, LogEntry
from .workflow_models import DependencyOutcome

#: Guards the rare cancellation hand-over between the worker's loop and job threads.
_CANCEL_LOCK = threading.Lock()


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
        #: How the jobs this one waited for ended, in the order given (empty if it waited
        #: for none), and the workflow or batch it belongs to.
        self.dependencies: list[DependencyOutcome] = []
        self.workflow_id: str | None = None
        self._sink = sink
        self._cancelled = False
        # Made only when a sync job waits for cancellation: most jobs never do.
        self._cancel_event: threading.Event | None = None
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
        return self._cancelled

    def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress between 0 and 100, optionally with a short status message."""
        self._sink.set_progress(self.lease, max(0.0, min(100.0, float(percent))), message)

    def log(self, message: str, level: str = "info") -> None:
        """Append a timestamped line to the job's log."""
        self._sink.add_log(
            self.lease, LogEntry(at=datetime.now(UTC), message=str(message), level=level)
        )

    def snooze(self, seconds: float) -> NoReturn:
        """End this attempt and run the job again in `seconds`, spending no attempt (raises
        Snooze, which the worker records as a snooze)."""
        raise Snooze(seconds)

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block (in a sync job) until cancellation is requested or the timeout passes."""
        with _CANCEL_LOCK:
            if self._cancel_event is None:
                self._cancel_event = threading.Event()
                if self._cancelled:
                    self._cancel_event.set()
            event = self._cancel_event
        return event.wait(timeout)

    def request_cancel(self, reason: str) -> None:
        """Mark the run as cancelled; called by the worker, not by jobs."""
        with _CANCEL_LOCK:
            if self._cancelled:
                return
            self.cancel_reason = reason
            self._cancelled = True
            if self._cancel_event is not None:
                self._cancel_event.set()
