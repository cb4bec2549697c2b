"""AppHistory: the part of an App that reads the history of finished jobs, the alerts drawn
from it and the queues, and the jobs taken back from lost workers."""

from __future__ import annotations

import asyncio
import builtins
from datetime import datetime, timedelta

from ..backends.base import LIVE_WORKER_S
from ..backends.history_rules import SETTLE_S
from ..history_models import HistoryPoint, HistoryStep, HistoryTotal, NameSummary, WorkerLoss
from . import alerts, history_views
from .alerts import Alert, AlertRules
from .history_views import window_of
from .queue_controls import QueueControls
from .runtime import Runtime
from .storage import Storage


class AppHistory(QueueControls):
    """History per window ("1h", "24h", "7d", "28d"), per job name, alerts and worker
    losses; App takes its queue controls through it. Sync methods block; `*_async` twins
    await."""

    runtime: Runtime
    _storage: Storage

    def roll_up_history(self, settle_s: float = SETTLE_S) -> int:
        """Fold finished jobs into the history now (workers' sweepers do it every sweep);
        how many were folded in this batch."""
        return self.runtime.call(self.roll_up_history_async(settle_s))

    async def roll_up_history_async(self, settle_s: float = SETTLE_S) -> int:
        return await self._storage.call(lambda b: b.roll_up_history(settle_s))

    def history(
        self, window: str = "24h", queue: str | None = None, name: str | None = None
    ) -> builtins.list[HistoryStep]:
        """Jobs finished per state in every step of the window, oldest first."""
        return self.runtime.call(self.history_async(window, queue, name))

    async def history_async(
        self, window: str = "24h", queue: str | None = None, name: str | None = None
    ) -> builtins.list[HistoryStep]:
        span, now = window_of(window), await self._storage.now()
        since = history_views.first_step(span, now)
        points = await self._storage.call(
            lambda b: b.history_series(since, span.step_s, queue, name)
        )
        return history_views.steps_of(points, span, now)

    async def history_points_async(
        self, window: str = "24h"
    ) -> tuple[datetime, builtins.list[HistoryPoint]]:
        """The time read and the window's counts per step, queue, job name and state (for
        `history_views.steps_by` and `runs_by`)."""
        span, now = window_of(window), await self._storage.now()
        since = history_views.first_step(span, now)
        points = await self._storage.call(lambda b: b.history_series(since, span.step_s))
        return now, points

    async def history_totals_async(self, window: str = "24h") -> builtins.list[HistoryTotal]:
        """Jobs finished per queue, job name and state within the window."""
        span, now = window_of(window), await self._storage.now()
        since = history_views.first_step(span, now)
        until = now + timedelta(seconds=span.step_s)
        return await self._storage.call(lambda b: b.history_totals(since, until))

    def name_history(
        self, name: str, window: str = "24h", queue: str | None = None
    ) -> tuple[NameSummary, builtins.list[HistoryStep]]:
        """One job name over the window: its summary and its steps with p95s."""
        return self.runtime.call(self.name_history_async(name, window, queue))

    async def name_history_async(
        self, name: str, window: str = "24h", queue: str | None = None
    ) -> tuple[NameSummary, builtins.list[HistoryStep]]:
        span, now = window_of(window), await self._storage.now()
        since = history_views.first_step(span, now)
        buckets = await self._storage.call(
            lambda b: b.history_buckets(name, since, span.step_s, queue)
        )
        return history_views.summary(name, buckets), history_views.name_steps(buckets, span, now)

    def alerts(self, rules: AlertRules | None = None) -> builtins.list[Alert]:
        """What needs an operator now (see AlertRules)."""
        return self.runtime.call(self.alerts_async(rules))

    async def alerts_async(self, rules: AlertRules | None = None) -> builtins.list[Alert]:
        rules = rules or AlertRules()
        now = await self._storage.now()
        (normal_from, normal_to), (recent_from, recent_to) = alerts.windows(rules, now)
        queues, recent, normal = await asyncio.gather(
            self._storage.call(lambda b: b.waiting_queues(LIVE_WORKER_S)),
            self._storage.call(lambda b: b.history_totals(recent_from, recent_to)),
            self._storage.call(lambda b: b.history_totals(normal_from, normal_to)),
        )
        return [
            *alerts.queue_alerts(queues, rules, now),
            *alerts.failure_alerts(recent, normal, rules),
        ]

    async def worker_losses_async(self, since: datetime) -> builtins.list[WorkerLoss]:
        """Jobs taken back from lost workers since `since`, newest first."""
        return await self._storage.call(lambda b: b.worker_losses(since))
