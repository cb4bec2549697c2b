"""The alert rules: a failure rate above normal, queues nobody serves or that wait too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from underway.app.alerts import AlertRules, failure_alerts, queue_alerts, windows
from underway.history_models import HistoryTotal
from underway.queue_models import QueueInfo

NOW = datetime(2026, 12, 5, 10, 20, tzinfo=UTC)


def totals(name: str, completed: int, failed: int) -> list[HistoryTotal]:
    return [
        HistoryTotal("default", name, "completed", completed),
        HistoryTotal("default", name, "failed", failed),
    ]


def test_a_failure_rate_alerts_only_above_twice_normal_and_ten_points_more() -> None:
    rules = AlertRules()
    usual = totals("flaky", 900, 100) + totals("solid", 1000, 0)

    assert failure_alerts(totals("flaky", 8, 2), usual, rules) == [], "20% is not above 2 x 10%"
    [alert] = failure_alerts(totals("flaky", 6, 4) + totals("solid", 9, 1), usual, rules)
    assert (alert.subject, alert.message) == (
        "flaky",
        "flaky failed 40% of 10 runs in the last 15 min; normal is 10%",
    )
    assert failure_alerts(totals("solid", 8, 1), usual, rules) == [], "fewer than min_runs"


def test_normal_ends_at_the_whole_hour_before_the_recent_window() -> None:
    (normal_from, normal_to), (recent_from, recent_to) = windows(AlertRules(), NOW)

    assert (recent_from, recent_to) == (NOW - timedelta(minutes=15), NOW)
    assert normal_to == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert normal_from == normal_to - timedelta(days=7)


def test_queues_nobody_serves_or_that_wait_too_long_alert_unless_paused() -> None:
    waited = NOW - timedelta(minutes=10)
    queues = [
        QueueInfo("lonely", counts={"pending": 3}, oldest_waiting_at=NOW),
        QueueInfo("slow", counts={"pending": 1}, oldest_waiting_at=waited, workers=("w",)),
        QueueInfo("paused", paused=True, counts={"pending": 9}, oldest_waiting_at=waited),
        QueueInfo("idle", workers=("w",)),
    ]

    found = [(a.kind, a.subject) for a in queue_alerts(queues, AlertRules(), NOW)]

    assert found == [("no_live_worker", "lonely"), ("oldest_waiting", "slow")]


def test_bad_thresholds_are_refused_with_their_name() -> None:
    with pytest.raises(ValueError, match="oldest_waiting_s must be positive"):
        AlertRules(oldest_waiting_s=0)
