"""The options of `@app.job`, checked and held in JobOptions: durations, backoff, rate limits
and retry rules as the decorator takes them."""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .errors import ConfigurationError
from .models import UniqueMode
from .rate_limits import RateLimit, rate_limit_of

UNIQUE_MODES: tuple[UniqueMode, ...] = ("join", "skip", "queue")
DEFAULT_RETENTION = timedelta(days=7)
EARLIEST_RUN_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_RUN_AT = datetime(9999, 12, 30, tzinfo=UTC)

Hook = Callable[..., Any]
ConcurrencyKey = str | Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff between retries: base * factor**(attempt-1), capped, with jitter."""

    base: float = 1.0
    factor: float = 2.0
    maximum: float = 3600.0
    jitter: float = 0.1

    def delay(self, attempt: int) -> float:
        raw = min(self.maximum, self.base * self.factor ** max(0, attempt - 1))
        return max(0.0, raw * (1 + random.uniform(-self.jitter, self.jitter)))


DEFAULT_BACKOFF = Backoff()


#: A duration: seconds, a timedelta, or text such as "90s", "10m", "1h30m", "7d".
Duration = float | timedelta | str

DURATION_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(value: Duration | None, option: str) -> float | None:
    """A duration option in seconds; negatives and unreadable text raise ConfigurationError."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, str):
        result = _duration_text(value, option)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ConfigurationError(
            f"{option} must be seconds, a timedelta or text like '10m', got {value!r}"
        )
    if result < 0 or result != result:
        raise ConfigurationError(f"{option} must not be negative, got {value!r}")
    return result


def aware_run_at(value: datetime | None) -> datetime | None:
    """A run_at as an aware datetime (naive means UTC), within the range storage can hold."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ConfigurationError(f"run_at must be a datetime, got {value!r}")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST_RUN_AT <= aware <= LATEST_RUN_AT:
        raise ConfigurationError(f"run_at {value.isoformat()} is out of range (1970 to 9999)")
    return aware


def flow_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take `@app.job`'s rate limit and retry rule options out of `options`, as JobOptions
    holds them: a RateLimit, and tuples of exception classes."""
    flow: dict[str, Any] = {}
    rate, window = options.pop("rate_limit", None), options.pop("rate_window", None)
    if rate is not None:
        flow["rate_limit"] = rate_limit_of(rate, window)
    elif window is not None:
        raise ConfigurationError("rate_window needs rate_limit=")
    for option in ("retry_on", "discard_on"):
        if (kinds := options.pop(option, None)) is not None:
            flow[option] = (kinds,) if isinstance(kinds, type) else tuple(kinds)
    return flow


def _duration_text(text: str, option: str) -> float:
    compact = text.strip()
    with contextlib.suppress(ValueError):
        return float(compact)
    parts = DURATION_TEXT.findall(compact)
    if not parts or DURATION_TEXT.sub("", compact).strip():
        raise ConfigurationError(
            f"{option}: cannot read {text!r} as a duration; "
            "write seconds (600) or text like '90s', '10m', '1h30m', '7d'"
        )
    return sum(float(amount) * UNIT_SECONDS[unit.lower()] for amount, unit in parts)


@dataclass(frozen=True, slots=True)
class JobOptions:
    """Options given to `@app.job`, checked at decoration time."""

    name: str
    queue: str = "default"
    priority: int = 0
    retries: int = 0
    backoff: Backoff | Callable[[int], float] = DEFAULT_BACKOFF
    timeout: float | None = None
    retention: float = DEFAULT_RETENTION.total_seconds()
    unique: UniqueMode | None = None
    unique_for: float | None = None
    unique_by: tuple[str, ...] | None = None
    concurrency: int | None = None
    concurrency_key: ConcurrencyKey | None = None
    on_success: Hook | None = None
    on_failure: Hook | None = None
    #: The loss of its worker that fails the job; None: the sweeping worker's `max_losses`.
    max_losses: int | None = None
    #: At most this many attempts start per window, per `rate_key` (an argument's name or a
    #: function of the arguments; None: one key for the job), across all workers.
    rate_limit: RateLimit | None = None
    rate_key: ConcurrencyKey | None = None
    #: Only these exceptions are retried (None: any); these fail the job at once.
    retry_on: tuple[type[BaseException], ...] | None = None
    discard_on: tuple[type[BaseException], ...] = ()
    #: unique="queue": at most this many wait at once; beyond, a request is skipped or refused.
    queue_limit: int | None = None
    queue_full: Literal["skip", "raise"] = "skip"
    #: Where its outcome is POSTed, signed, once it ends (None: the app's webhook, if any).
    webhook: str | None = None
