"""EverySecond: a tick source for scheduler tests, injected with `app.schedule_for`."""

from __future__ import annotations

from datetime import datetime, timedelta


class EverySecond:
    """Fires on every whole second, whatever the cron expression says."""

    def next_after(self, moment: datetime) -> datetime:
        return moment.replace(microsecond=0) + timedelta(seconds=1)

    def last_at_or_before(self, moment: datetime) -> datetime:
        return moment.replace(microsecond=0)
