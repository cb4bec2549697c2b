"""underway: durable background jobs for Python."""

from .app import App, JobHandle, RunningWorker
from .app.workflow_handle import WorkflowHandle
from .app.workflows import Chain, Group, Step, chain, group
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
    WorkflowNotFound,
    WorkflowWaitTimeout,
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
from .workflow_models import BatchSummary, DependencyOutcome, Workflow, WorkflowPage

__all__ = [
    "App",
    "Backoff",
    "BatchSummary",
    "Blocker",
    "Chain",
    "ConfigurationError",
    "DatabaseConfigurationError",
    "DependencyOutcome",
    "DuplicateJobError",
    "Explanation",
    "Group",
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
    "Step",
    "StorageUnavailable",
    "UnderwayError",
    "UnknownJobError",
    "ValidationError",
    "WaitTimeout",
    "WorkerInfo",
    "WorkerLost",
    "WorkerSettings",
    "Workflow",
    "WorkflowHandle",
    "WorkflowNotFound",
    "WorkflowPage",
    "WorkflowWaitTimeout",
    "chain",
    "fingerprint_of",
    "group",
]
