"""A JobContext for calling a job's function directly in a unit test, recording what it said."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..context import JobContext
from ..models import Lease, LogEntry


@dataclass
class Reported:
    """What a job reported through its context: every progress call and log line."""

    progress: list[tuple[float, str | None]] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)

    @property
    def last_progress(self) -> float | None:
        return self.progress[-1][0] if self.progress else None

    @property
    def messages(self) -> list[str]:
        """The log lines' text, in order."""
        return [entry.message for entry in self.logs]

    def set_progress(self, lease: Lease, percent: float, message: str | None) -> None:
        self.progress.append((percent, message))

    def add_log(self, lease: Lease, entry: LogEntry) -> None:
        self.logs.append(entry)


class TestContext(JobContext):
    """A `JobContext` no worker stands behind: pass it as the first argument of a job's
    function (`export(ctx, month="2026-10")`), then read `ctx.reported`. `ctx.cancel()`
    asks the job to stop, as a user's cancel would."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        job_id: str = "test-job",
        name: str = "test",
        args: dict[str, Any] | None = None,
        attempt: int = 1,
        max_attempts: int = 1,
        resources: Any = None,
        scope: Any = None,
    ) -> None:
        self.reported = Reported()
        super().__init__(
            lease=Lease(job_id, attempt, "test-worker"),
            name=name,
            args=args or {},
            max_attempts=max_attempts,
            sink=self.reported,
            resources=resources,
        )
        self.scope = scope

    def cancel(self, reason: str = "cancelled by the test") -> None:
        self.request_cancel(reason)
