"""The exception types users catch."""

from __future__ import annotations

from typing import Any


class UnderwayError(Exception):
    """Base class of every error underway raises on purpose."""


class ConfigurationError(UnderwayError, ValueError):
    """A job or app was declared wrongly (raised at decoration or start time)."""


class ValidationError(UnderwayError, ValueError):
    """Arguments do not fit the job's signature; nothing was stored."""

    def __init__(self, job_name: str, errors: list[dict[str, Any]]) -> None:
        self.job_name = job_name
        self.errors = errors
        details = "; ".join(f"{_location(e)}: {e['msg']}" for e in errors)
        super().__init__(f"invalid arguments for job {job_name!r}: {details}")


def _location(error: dict[str, Any]) -> str:
    parts = [str(p) for p in error.get("loc", ())]
    return ".".join(parts) if parts else "(arguments)"


class UnknownJobError(UnderwayError, LookupError):
    """No job with that name is registered on the app."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no job named {name!r} is registered")


class JobNotFound(UnderwayError, LookupError):
    """No job with that id exists (never did, or was deleted or pruned)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} not found")


class RecurringNameTaken(ConfigurationError):
    """A recurring job with that name exists already."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a recurring job named {name!r} already exists")


class RecurringNotFound(UnderwayError, LookupError):
    """No recurring definition with that id exists."""

    def __init__(self, recurring_id: str) -> None:
        self.recurring_id = recurring_id
        super().__init__(f"recurring job {recurring_id} not found")


class DuplicateJobError(UnderwayError):
    """A single-instance job is already active and the caller asked to be told."""

    def __init__(self, name: str, active_id: str) -> None:
        self.name = name
        self.active_id = active_id
        super().__init__(f"job {name!r} is already active as {active_id}")


class InvalidStateError(UnderwayError):
    """The job is in a state that does not allow the requested change."""


class JobFailed(UnderwayError):
    """The job ended in `failed`; carries the error its last attempt recorded."""

    def __init__(self, job_id: str, error_type: str, message: str, traceback: str = "") -> None:
        self.job_id = job_id
        self.error_type = error_type
        self.message = message
        self.traceback = traceback
        super().__init__(f"job {job_id} failed: {error_type}: {message}")


class JobCancelled(UnderwayError):
    """The job was cancelled before it completed."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} was cancelled")


class JobSkipped(UnderwayError):
    """The request was refused by a uniqueness or overlap policy and never ran."""

    def __init__(self, job_id: str, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(f"job {job_id} was skipped: {reason}")


class JobTimeout(UnderwayError, TimeoutError):
    """Recorded as the error of an attempt that ran longer than its timeout; a TimeoutError,
    so that `retry_on=(TimeoutError,)` retries it."""


class WorkerLost(UnderwayError):
    """Recorded as the error of an attempt whose worker stopped heartbeating."""


class WaitTimeout(UnderwayError, TimeoutError):
    """The job did not finish within the time the caller was willing to wait."""

    def __init__(self, job_id: str, timeout: float, state: str) -> None:
        self.job_id = job_id
        self.state = state
        super().__init__(f"job {job_id} still {state} after waiting {timeout:g} s")


class StorageUnavailable(UnderwayError):
    """The database cannot be reached or is refusing writes; retry later."""


class DatabaseConfigurationError(ConfigurationError):
    """The database URL names something that cannot work as it is: no such database, role,
    host, folder or file, refused credentials, no permission. Retrying cannot help, so nothing
    retries it; the message quotes the database's own words and says what to fix."""


class LeaseLost(UnderwayError):
    """This worker no longer owns the job (it was presumed dead and the job moved on)."""


class QueueFull(UnderwayError):
    """A unique="queue" job already has its `queue_limit` of runs waiting (queue_full="raise")."""

    def __init__(self, name: str, waiting: int, limit: int) -> None:
        self.name, self.waiting, self.limit = name, waiting, limit
        super().__init__(
            f"job {name!r}: {waiting} runs with the same arguments already wait (queue_limit "
            f"{limit}); try again once one has started, or raise queue_limit"
        )


class QueueNotFound(UnderwayError, LookupError):
    """No queue of that name: no job declares it and no stored job is in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no queue named {name!r}")


class WorkflowWaitTimeout(UnderwayError, TimeoutError):
    """The workflow had members left to run after the time the caller was willing to wait."""

    def __init__(self, workflow_id: str, timeout: float, ended: int, total: int) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"workflow {workflow_id} still active after waiting {timeout:g} s "
            f"({ended} of {total} jobs ended)"
        )


class WorkflowNotFound(UnderwayError, LookupError):
    """No workflow or batch with that id exists."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"workflow {workflow_id} not found")


class Snooze(Exception):
    """Raised by a job: put it back to run in `seconds`, spending no attempt (a 429 from an
    API is not a failure). `ctx.snooze(seconds)` raises it."""

    def __init__(self, seconds: float) -> None:
        if not seconds >= 0:
            raise ValueError(f"Snooze takes seconds ≥ 0, not {seconds!r}")
        self.seconds = float(seconds)
        super().__init__(f"snoozed for {self.seconds:g} s")


class Retry(Exception):
    """Raised by a job: this attempt failed; retry after `after` seconds (instead of the
    backoff's delay) if attempts are left, else the job fails."""

    def __init__(self, after: float | None = None, reason: str = "") -> None:
        if after is not None and not after >= 0:
            raise ValueError(f"Retry takes after ≥ 0 seconds, not {after!r}")
        self.after = None if after is None else float(after)
        super().__init__(reason or ("retry" if after is None else f"retry in {after:g} s"))


class WebhookSignatureError(UnderwayError, ValueError):
    """A webhook's signature is missing, wrong, or its timestamp is too old or too new."""


class WebhookRejected(UnderwayError):
    """The webhook's receiver refused the delivery with a 4xx: retrying will not help."""

    def __init__(self, url: str, status: int, body: str) -> None:
        self.url, self.status = url, status
        super().__init__(
            f"{url} answered {status} to the webhook delivery: {body[:200]!r}; fix the receiver "
            "or the URL, then retry this delivery job"
        )
