"""Clock: a test's time, which moves only when the test moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..errors import ConfigurationError


class Clock:
    """A frozen clock for `App(clock=...)`: delays, retry backoff, `unique_for` windows, stall
    timeouts and cron ticks follow it, on SQLite and memory databases, so a test makes time
    pass with `advance` instead of waiting. PostgreSQL keeps its server's time for the rows;
    the app's scheduler still follows this clock."""

    def __init__(self, start: datetime | None = None) -> None:
        moment = start or datetime.now(UTC)
        if moment.tzinfo is None:
            raise ConfigurationError("Clock(start=...) needs an aware datetime (tzinfo=UTC)")
        self._now = moment.timestamp()

    def now(self) -> float:
        """Seconds since the epoch, as the backends read it."""
        return self._now

    @property
    def moment(self) -> datetime:
        """The current moment, in UTC."""
        return datetime.fromtimestamp(self._now, UTC)

    def advance(self, by: timedelta | float) -> datetime:
        """Move forward by a timedelta or seconds; returns the new moment."""
        seconds = by.total_seconds() if isinstance(by, timedelta) else float(by)
        if seconds < 0:
            raise ConfigurationError(
                f"the clock only moves forward, and {by!r} is negative: jobs, leases and cron "
                "ticks already stored would be in the future (make a new Clock to start over)"
            )
        self._now += seconds
        return self.moment

    def set(self, moment: datetime) -> datetime:
        """Move forward to `moment` (aware); moving back raises, as `advance` does."""
        if moment.tzinfo is None:
            raise ConfigurationError("Clock.set needs an aware datetime (tzinfo=UTC)")
        return self.advance(moment.timestamp() - self._now)

    def __repr__(self) -> str:
        return f"<Clock {self.moment.isoformat()}>"
