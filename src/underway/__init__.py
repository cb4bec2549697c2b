"""underway: durable background jobs for Python."""

from .app import App, JobHandle, RunningWorker
from .config import WorkerSettings
from .context import JobContext
from .errors import (
    ConfigurationError,
    DatabaseConfigurationError,
    DuplicateJobError,
    InvalidStateError,
    JobCancelled,
    JobFailed,
    JobNotFound,
    JobSkipped,
    JobTimeout,
    QueueFull,
    QueueNotFound,
    Retry,
    Snooze,
    StorageUnavailable,
    UnderwayError,
    UnknownJobError,
    ValidationError,
    WaitTimeout,
    WorkerLost,
)
from .explanations import Blocker, Explanation
from .job_options import Backoff
from .jobs import fingerprint_of
from .models import (
    Job,
    JobError,
    JobFilter,
    JobPage,
    JobState,
    LogEntry,
    QueueInfo,
    Stats,
    WorkerInfo,
)
from .rate_limits import RateLimit

__all__ = [
    "App",
    "Backoff",
    "Blocker",
    "ConfigurationError",
    "DatabaseConfigurationError",
    "DuplicateJobError",
    "Explanation",
    "InvalidStateError",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobError",
    "JobFailed",
    "JobFilter",
    "JobHandle",
    "JobNotFound",
    "JobPage",
    "JobSkipped",
    "JobState",
    "JobTimeout",
    "LogEntry",
    "QueueFull",
    "QueueInfo",
    "QueueNotFound",
    "RateLimit",
    "Retry",
    "RunningWorker",
    "Snooze",
    "Stats",
    "StorageUnavailable",
    "UnderwayError",
    "UnknownJobError",
    "ValidationError",
    "WaitTimeout",
    "WorkerInfo",
    "WorkerLost",
    "WorkerSettings",
    "fingerprint_of",
]
