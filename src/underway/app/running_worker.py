"""RunningWorker: a worker running inside the app's process, on its runtime loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Self

from ..worker import Worker
from .runtime import Runtime

log = logging.getLogger("underway.worker")
#: What stopping in-process workers may take beyond their longest shutdown grace: their jobs
#: stopped and handed back, outcomes written, the database closed.
STOP_MARGIN_S = 60.0


def stop_within(workers: list[RunningWorker]) -> float:
    """How long the app may take to stop these workers and close: their longest grace, and
    the margin (with none running, the margin alone)."""
    graces = [running.worker.settings.shutdown_grace for running in workers]
    return max(graces, default=0.0) + STOP_MARGIN_S


class RunningWorker:
    """An in-process worker started by `App.start_worker`."""

    def __init__(
        self,
        runtime: Runtime,
        worker: Worker,
        task: asyncio.Task[None],
        running: list[RunningWorker],
    ) -> None:
        self.runtime = runtime
        self.worker = worker
        self.task = task
        #: The app's list of its running workers, which this one leaves when it stops.
        self._running = running
        task.add_done_callback(self._report_crash)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        """Say when the worker ends by an error, not only when someone later stops it."""
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("worker %s stopped by an error: %r", self.id, error, exc_info=error)

    @property
    def id(self) -> str:
        return self.worker.id

    def stop(self) -> None:
        """Stop claiming, let running jobs finish within the grace period, and return."""
        self.runtime.call(self.stop_async())

    async def stop_async(self) -> None:
        async def stop() -> None:
            self.worker.request_stop()
            try:
                await asyncio.shield(self.task)
            finally:
                if self in self._running:
                    self._running.remove(self)

        await self.runtime.call_async(stop())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def join(self) -> None:
        """Block until the worker has stopped (after `request_stop` from a signal handler)."""

        async def stopped() -> None:
            await asyncio.shield(self.task)

        self.runtime.call(stopped())
