"""ThrottledLog and ThrottlingFilter: at most one log line per kind of error per interval, so
that an outage does not flood the logs."""

from __future__ import annotations

import logging
import time


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
