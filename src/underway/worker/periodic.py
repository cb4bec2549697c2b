"""PeriodicService: the shape of every long-running worker component (start, tick, stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..log_throttling import ThrottledLog
from ..stopping import cancel_and_wait


class PeriodicService:
    """Calls `tick()` every `interval_s` seconds, or sooner after `wake()`, until stopped."""

    name = "service"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._errors = ThrottledLog(logging.getLogger(f"underway.{self.name}"))

    async def tick(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"underway-{self.name}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._errors.error(type(exc).__name__, "%s failed: %s", self.name, exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()
