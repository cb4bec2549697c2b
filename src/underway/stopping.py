"""Stopping a long-running task even when a cancel sent to it is lost on the way."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

#: How long a stopping task has to end before it is cancelled again.
CANCEL_AGAIN_AFTER_S = 0.5


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it ends, cancelling it again while it runs on.

    On Python 3.11, `asyncio.wait_for` returns normally when the cancel arrives just as what
    it waits on completes, and libraries built on it (psycopg_pool among them) inherit that:
    the task never sees the cancel and goes on with its loop. A stop that cancelled once
    would wait for it forever. Errors other than the cancel are raised."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_AFTER_S)
    with contextlib.suppress(asyncio.CancelledError):
        await task
