"""StalledJobSweeper: returns jobs of dead workers to the queue and prunes expired jobs."""

from __future__ import annotations

import logging
import time

from ..backends.base import Backend
from .periodic import PeriodicService

log = logging.getLogger("underway.sweeper")


class StalledJobSweeper(PeriodicService):
    """Idempotent, so every worker may run one: stage due jobs, rescue stalled ones, prune."""

    name = "sweeper"

    def __init__(
        self, backend: Backend, interval_s: float, stall_timeout_s: float, prune_interval_s: float
    ) -> None:
        super().__init__(interval_s)
        self._backend = backend
        self._stall_timeout_s = stall_timeout_s
        self._prune_interval_s = prune_interval_s
        self._last_prune = 0.0

    async def tick(self) -> None:
        result = await self._backend.sweep(self._stall_timeout_s)
        if result.requeued or result.failed or result.cancelled:
            log.warning(
                "recovered stalled jobs: %d requeued, %d failed, %d cancelled",
                result.requeued,
                result.failed,
                result.cancelled,
            )
        if time.monotonic() - self._last_prune >= self._prune_interval_s:
            self._last_prune = began = time.monotonic()
            pruned = await self._backend.prune()
            if pruned:
                log.info(
                    "pruned %d jobs past their retention in %.0f ms",
                    pruned,
                    (time.monotonic() - began) * 1000,
                )
