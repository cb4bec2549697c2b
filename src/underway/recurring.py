"""Cron schedules: parsing (cronsim), timezones, and which tick a scheduler should fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import ConfigurationError
from .models import CatchUp, Overlap

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
OVERLAPS: tuple[Overlap, ...] = ("skip", "queue", "allow")
CATCH_UPS: tuple[CatchUp, ...] = ("one", "none")


class Schedule(Protocol):
    """A source of ticks: the first tick after a moment, and the last one at or before it."""

    def next_after(self, moment: datetime) -> datetime: ...

    def last_at_or_before(self, moment: datetime) -> datetime: ...


class CronSchedule:
    """A standard 5-field cron expression (or @alias) evaluated in a timezone, DST-aware."""

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        self.expression = ALIASES.get(expression.strip().lower(), expression.strip())
        self.zone = zone_named(timezone)
        try:
            CronSim(self.expression, datetime.now(self.zone))
        except (CronSimError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise ConfigurationError(f"invalid cron expression {expression!r}: {exc}") from None

    def next_after(self, moment: datetime) -> datetime:
        return next(CronSim(self.expression, moment.astimezone(self.zone))).astimezone(UTC)

    def last_at_or_before(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone)
        last = next(CronSim(self.expression, local + timedelta(seconds=1), reverse=True))
        if last > local:
            last = next(CronSim(self.expression, last, reverse=True))
        return last.astimezone(UTC)

    def describe(self) -> str:
        """The expression in words, e.g. "At 00:00 on the first day of every month"."""
        return str(CronSim(self.expression, datetime.now(self.zone)).explain())


def describe_cron(cron: str, timezone: str) -> str:
    """A stored schedule in words, or "" if it no longer parses (it is shown, never trusted)."""
    try:
        return CronSchedule(cron, timezone).describe()
    except (ConfigurationError, ValueError):
        return ""


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"unknown timezone {name!r}; use an IANA name like 'Europe/Berlin'"
        ) from None


def check_policies(overlap: str, catch_up: str) -> None:
    if overlap not in OVERLAPS:
        raise ConfigurationError(f"overlap must be one of {OVERLAPS}, got {overlap!r}")
    if catch_up not in CATCH_UPS:
        raise ConfigurationError(f"catch_up must be one of {CATCH_UPS}, got {catch_up!r}")


def tick_to_fire(
    schedule: Schedule, next_fire_at: datetime, now: datetime, catch_up: CatchUp, grace: timedelta
) -> datetime | None:
    """The one tick to fire now for a definition due since `next_fire_at`, or None.

    Missed ticks never fire in a burst: the latest due tick stands for all of them
    (catch_up="one"), or is dropped when it is later than `grace` (catch_up="none").
    """
    if next_fire_at > now:
        return None
    latest = max(schedule.last_at_or_before(now), next_fire_at)
    if catch_up == "none" and now - latest > grace:
        return None
    return latest
