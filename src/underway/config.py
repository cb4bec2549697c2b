"""WorkerSettings: every tunable of a worker, with the defaults the docs promise."""

from __future__ import annotations

from dataclasses import dataclass

from .backends.policy import MAX_LOSSES
from .errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How a worker claims, heartbeats, flushes and shuts down. Durations are in seconds."""

    concurrency: int = 10
    queues: tuple[str, ...] | None = None
    #: Only jobs of these names (None: every job of the queues served); a drain of some jobs.
    jobs: tuple[str, ...] | None = None
    poll_interval: float = 1.0
    heartbeat_interval: float = 5.0
    stall_timeout: float = 30.0
    sweep_interval: float = 5.0
    #: The loss of its worker (killed, frozen, cut off) that fails a job with WorkerLost;
    #: the losses before it put the job back without spending a retry.
    max_losses: int = MAX_LOSSES
    prune_interval: float = 60.0
    lease_check_interval: float = 0.5
    flush_interval: float = 1.0
    flush_batch_size: int = 50
    max_log_entries: int = 1000
    shutdown_grace: float = 30.0
    sweeper: bool = True
    scheduler: bool = True
    scheduler_interval: float = 1.0
    misfire_grace: float = 30.0
    #: Slots held by jobs that ignored their timeout or cancellation; past this the worker
    #: drains and exits (status 75) so that a supervisor restarts it. None: concurrency // 2.
    max_stuck_slots: int | None = None
    #: Stop once nothing is due (no job to claim, none running), as RQ's `--burst`; what
    #: `underway.testing.drain` runs.
    burst: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        for name in (
            "poll_interval",
            "heartbeat_interval",
            "stall_timeout",
            "sweep_interval",
            "prune_interval",
            "lease_check_interval",
            "flush_interval",
            "scheduler_interval",
        ):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive")
        if self.shutdown_grace < 0:
            raise ConfigurationError("shutdown_grace must not be negative")
        if self.stall_timeout <= self.heartbeat_interval:
            raise ConfigurationError(
                "stall_timeout must be longer than heartbeat_interval, or live jobs look stalled"
            )
        if self.max_losses < 1:
            raise ConfigurationError("max_losses must be at least 1 (1: fail at the first loss)")
        if self.flush_batch_size < 1 or self.max_log_entries < 0:
            raise ConfigurationError("flush_batch_size must be ≥ 1 and max_log_entries ≥ 0")
