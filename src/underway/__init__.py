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
    StorageUnavailable,
    UnderwayError,
    UnknownJobError,
    ValidationError,
    WaitTimeout,
    WorkerLost,
)
from .job_options import Backoff
from .jobs import fingerprint_of
from .models import Job, JobError, JobFilter, JobPage, JobState, LogEntry, Stats, WorkerInfo

__all__ = [
    "App",
    "Backoff",
    "ConfigurationError",
    "DatabaseConfigurationError",
    "DuplicateJobError",
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
    "RunningWorker",
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
