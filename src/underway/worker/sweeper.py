"""StalledJobSweeper: returns jobs of dead workers to the queue, keeps the history of finished
jobs and prunes expired jobs."""

from __future__ import annotations

import logging
import time

from ..backends import policy
from ..backends.base import Backend
from ..models import JobState, LostAttempt
from .periodic import PeriodicService

log = logging.getLogger("underway.sweeper")


class StalledJobSweeper(PeriodicService):
    """Idempotent, so every worker may run one: stage due jobs, rescue stalled ones, fold
    finished jobs into the history, prune."""

    name = "sweeper"

    def __init__(
        self,
        backend: Backend,
        interval_s: float,
        stall_timeout_s: float,
        prune_interval_s: float,
        max_losses: int | policy.LossBounds = policy.MAX_LOSSES,
        last_chance_spacing_s: float = 0.0,
    ) -> None:
        super().__init__(interval_s)
        self._backend = backend
        self._stall_timeout_s = stall_timeout_s
        self._max_losses = policy.loss_bounds(max_losses)
        self._spacing_s = last_chance_spacing_s
        self._prune_interval_s = prune_interval_s
        self._last_prune = 0.0

    async def tick(self) -> None:
        result = await self._backend.sweep(self._stall_timeout_s, self._max_losses, self._spacing_s)
        for lost in result.lost:
            log_lost(lost, self._max_losses.of(lost.name))
        # Prune folds what it deletes that the rollup has not reached: the rollup only keeps
        # the history current, and its failing must not stop pruning.
        try:
            await self._backend.roll_up_history()
        except Exception as exc:
            self._errors.error(type(exc).__name__, "the history's rollup failed: %s", exc)
        if time.monotonic() - self._last_prune >= self._prune_interval_s:
            self._last_prune = began = time.monotonic()
            pruned = await self._backend.prune()
            if pruned:
                log.info(
                    "pruned %d jobs past their retention in %.0f ms",
                    pruned,
                    (time.monotonic() - began) * 1000,
                )


def log_lost(lost: LostAttempt, max_losses: int) -> None:
    """One line for each job taken back from a lost worker: run again at warning, failed for
    too many losses at error, cancelled (as it was asked to be) at info."""
    what = f"job {lost.name} {lost.job_id} attempt {lost.attempt}"
    worker = f"lost its worker {lost.worker_id or '?'}"
    if lost.state.is_active:
        log.warning(
            "%s %s; running it again%s without spending a retry (loss %d; max_losses is %d)",
            what,
            worker,
            f" in {lost.delay_s:.1f} s" if lost.delay_s > 0 else "",
            lost.losses,
            max_losses,
        )
    elif lost.state is JobState.FAILED:
        log.error(
            "%s %s; failed as WorkerLost: lost %d times (max_losses is %d)",
            what,
            worker,
            lost.losses,
            max_losses,
        )
    else:
        log.info("%s %s; cancelled by request", what, worker)
