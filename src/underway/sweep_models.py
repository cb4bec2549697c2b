"""Plain data of a sweep: the attempts it took back and what it changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # models re-exports these: a runtime import would be circular
    from .models import JobError, JobState


@dataclass(frozen=True, slots=True)
class LostAttempt:
    """An attempt a sweep took back from a worker that stopped heartbeating, and what its
    job became (`losses` counts this loss; a job put back may wait `delay_s` to run)."""

    job_id: str
    name: str
    attempt: int
    worker_id: str | None
    state: JobState
    losses: int
    error: JobError
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep changed."""

    staged: int = 0
    requeued: int = 0
    failed: int = 0
    cancelled: int = 0
    pruned: int = 0
    lost: tuple[LostAttempt, ...] = ()
