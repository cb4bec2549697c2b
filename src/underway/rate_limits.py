"""RateLimit: how many attempts may start per time window, as `@app.job(rate_limit=...)` and
`app.queue(..., rate_limit=...)` take it ("100/minute", "10/second", "5/30s" or a RateLimit)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from .errors import ConfigurationError

Window = Literal["sliding", "fixed"]
UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
SUFFIXES = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
TEXT = re.compile(r"\s*(\d+)\s*/\s*(?:(\d+(?:\.\d+)?)\s*([smhd])|(second|minute|hour|day)s?)\s*")
EXAMPLES = '"100/minute", "10/second", "1000/hour", "5/30s"'


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` attempts start per `per` seconds, across all workers. A sliding window
    (the default) counts the starts of the last `per` seconds at every instant; a fixed one
    counts from the start of each window of `per` seconds (cheaper to reason about, and it
    lets a burst of twice the limit straddle a window's edge)."""

    limit: int
    per: float
    window: Window = "sliding"

    def __post_init__(self) -> None:
        if isinstance(self.per, timedelta):
            object.__setattr__(self, "per", self.per.total_seconds())
        if not isinstance(self.limit, int) or self.limit < 1:
            raise ConfigurationError(f"a rate limit allows at least 1 start, not {self.limit!r}")
        if not self.per > 0:
            raise ConfigurationError(f"a rate limit's window must be positive, not {self.per!r}")
        if self.window not in ("sliding", "fixed"):
            raise ConfigurationError(f'a rate window is "sliding" or "fixed", not {self.window!r}')

    @property
    def fixed(self) -> bool:
        return self.window == "fixed"

    def __str__(self) -> str:
        per = f"{self.per:g}s" if self.per not in UNITS.values() else _unit(self.per)
        return f"{self.limit}/{per}" + (" (fixed window)" if self.fixed else "")


def rate_limit_of(value: RateLimit | str, window: Window | None = None) -> RateLimit:
    """A RateLimit from its text or itself; `window` (if given) overrides the window kind."""
    if isinstance(value, RateLimit):
        found = value
    elif isinstance(value, str) and (match := TEXT.fullmatch(value)):
        count, number, suffix, unit = match.groups()
        per = float(number) * SUFFIXES[suffix] if number else UNITS[unit]
        found = RateLimit(int(count), per)
    else:
        raise ConfigurationError(
            f"rate_limit is a RateLimit or text like {EXAMPLES}, not {value!r}"
        )
    return found if window is None else RateLimit(found.limit, found.per, window)


def stored_rate_limit(limit: int | None, per: float | None, fixed: bool) -> RateLimit | None:
    """The RateLimit a stored row holds (a queue's), or None where it holds none."""
    if limit is None or per is None:
        return None
    return RateLimit(limit, per, "fixed" if fixed else "sliding")


def _unit(per: float) -> str:
    return next(name for name, seconds in UNITS.items() if seconds == per)
