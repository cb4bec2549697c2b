"""A rate-limited job whose code starts late: its start counted again, from now.

A claim counts each start it makes from the claim's time, and for `claiming.DISPATCH_S`
longer (at most a quarter of the window), the time the worker may take to hand the job to
its code. A busy host can take longer; the start is then counted again, from when the code
starts, so that no window of the jobs' own start times holds more than the limit."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from ..backends import claiming
from ..errors import StorageUnavailable
from ..jobs import JobDefinition

log = logging.getLogger("underway.worker")


class LateStartCounter(Protocol):
    async def count_late_start(self, key: str, window_s: float, fixed: bool) -> None: ...


async def count_if_late(
    backend: LateStartCounter, definition: JobDefinition, args: dict[str, Any], claimed_at: float
) -> None:
    """Count the job's start again if its code starts later after the claim began (the
    monotonic `claimed_at`) than its claim counted it for."""
    rate = definition.options.rate_limit
    if rate is None:
        return
    margin = min(claiming.DISPATCH_S, rate.per * claiming.DISPATCH_SHARE)
    if time.monotonic() - claimed_at <= margin:
        return
    key = definition.rate_key(args)
    assert key is not None
    try:
        await backend.count_late_start(key, rate.per, rate.fixed)
    except StorageUnavailable as exc:
        log.warning("job %s: its late start could not be counted again: %s", definition.name, exc)
