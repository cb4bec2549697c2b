"""PeriodicService: the shape of every long-running worker component (start, tick, stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

log = logging.getLogger("underway")


class ThrottledLog:
    """Logs one line per error kind per interval, so an outage does not flood the logs."""

    def __init__(self, logger: logging.Logger, interval_s: float = 30.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def error(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -self._interval_s) < self._interval_s:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last[kind] = now
        skipped = self._suppressed.pop(kind, 0)
        suffix = f" ({skipped} similar errors suppressed)" if skipped else ""
        self._logger.error(message + suffix, *args)


class ThrottlingFilter(logging.Filter):
    """Lets through one record per message kind per interval (for chatty library loggers)."""

    def __init__(self, interval_s: float = 30.0) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = f"{record.name}:{record.levelno}:{str(record.msg)[:40]}"
        now = time.monotonic()
        if now - self._last.get(kind, -self._interval_s) < self._interval_s:
            return False
        self._last[kind] = now
        return True


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
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
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
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
