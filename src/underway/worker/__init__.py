"""The worker: the claim loop (`loop.Worker`), one job's execution, heartbeats and lease
checks, progress flushing, outcome writing, the sweeper, the scheduler, and the periodic-service
base they share."""

from .loop import EXIT_STUCK, MAX_BACKOFF_S, Worker

__all__ = ["EXIT_STUCK", "MAX_BACKOFF_S", "Worker"]
