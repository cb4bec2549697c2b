"""In-process publish/subscribe used by backends to wake workers and waiters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

from .base import Unsubscribe
from .policy import Wakeups

log = logging.getLogger("underway.notifier")


class LocalNotifier:
    """Calls subscribers of a channel synchronously; all use happens on one event loop."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callable[[str], None]]] = defaultdict(list)

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Unsubscribe:
        self._subscribers[channel].append(callback)

        def unsubscribe() -> None:
            callbacks = self._subscribers.get(channel, [])
            if callback in callbacks:
                callbacks.remove(callback)

        return unsubscribe

    def has_subscribers(self, channel: str) -> bool:
        """Whether anyone here listens on `channel` (a hint; safe to ask from any thread)."""
        return bool(self._subscribers.get(channel))

    def notify(self, channel: str, payload: str = "") -> None:
        for callback in list(self._subscribers.get(channel, ())):
            try:
                callback(payload)
            except Exception:
                log.exception("subscriber of %s failed", channel)

    def announce(self, wakeups: Wakeups) -> None:
        """Tell this process's subscribers what a committed write changed."""
        if wakeups.work:
            self.notify("work")
        for job_id in wakeups.finished:
            self.notify("finished", job_id)
        for job_id in wakeups.cancel:
            self.notify("cancel", job_id)

    def notify_from_thread(
        self, loop: asyncio.AbstractEventLoop | None, channel: str, payload: str = ""
    ) -> None:
        """`notify` on `loop` from another thread, if anyone here listens on `channel`."""
        if loop is None or not self.has_subscribers(channel):
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody to tell
            loop.call_soon_threadsafe(self.notify, channel, payload)
