"""What the overview and `GET /api/alerts` warn of: waiting jobs that no live worker serves,
a job name failing more than it normally does, and a queue whose oldest waiting job has
waited too long. The rules are here; `AlertRules` holds their thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..backends.history_rules import HOUR_S, bucket_start
from ..history_models import HistoryTotal
from ..queue_models import QueueInfo


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Thresholds of the alerts. "Normal" for a job name is its failure rate (failed of
    completed and failed) over the `normal_s` before the last `recent_s`, read from the
    history; the recent rate is above normal when at least `min_runs` ended in the last
    `recent_s` and their rate exceeds both `factor` times normal and normal plus `margin`."""

    oldest_waiting_s: float = 300.0
    recent_s: int = 900
    normal_s: int = 7 * 86400
    min_runs: int = 10
    factor: float = 2.0
    margin: float = 0.10

    def __post_init__(self) -> None:
        for name in ("oldest_waiting_s", "recent_s", "normal_s", "factor"):
            if getattr(self, name) <= 0:
                raise ValueError(f"AlertRules.{name} must be positive")
        if self.min_runs < 1 or not 0 <= self.margin <= 1:
            raise ValueError("AlertRules.min_runs must be at least 1 and margin within 0..1")


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing an operator should look at: its kind, the queue or job name it is about,
    and a sentence saying what is wrong."""

    kind: str
    subject: str
    message: str


def queue_alerts(queues: Sequence[QueueInfo], rules: AlertRules, now: datetime) -> list[Alert]:
    """Waiting jobs with no live worker for their queue; oldest waiting job too old. Paused
    queues are left out: their jobs wait on purpose."""
    found = []
    for queue in queues:
        waiting = queue.counts.get("pending", 0)
        if queue.paused or (not waiting and queue.oldest_waiting_at is None):
            continue
        if not queue.workers:
            found.append(
                Alert(
                    "no_live_worker",
                    queue.name,
                    f"{waiting} {'job waits' if waiting == 1 else 'jobs wait'} in queue "
                    f"{queue.name!r} and no live worker serves it",
                )
            )
        if queue.oldest_waiting_at is not None:
            waited = (now - queue.oldest_waiting_at).total_seconds()
            if waited > rules.oldest_waiting_s:
                found.append(
                    Alert(
                        "oldest_waiting",
                        queue.name,
                        f"the oldest waiting job in queue {queue.name!r} has waited "
                        f"{duration_in_words(waited)} (threshold "
                        f"{duration_in_words(rules.oldest_waiting_s)})",
                    )
                )
    return found


def failure_alerts(
    recent: Iterable[HistoryTotal], normal: Iterable[HistoryTotal], rules: AlertRules
) -> list[Alert]:
    """Job names failing more than normal (see AlertRules)."""
    now_counts, usual_counts = ended_by_name(recent), ended_by_name(normal)
    found = []
    for name, (failed, ended) in sorted(now_counts.items()):
        if ended < rules.min_runs:
            continue
        rate = failed / ended
        usual_failed, usual_ended = usual_counts.get(name, (0, 0))
        usual = usual_failed / usual_ended if usual_ended else 0.0
        if rate > usual * rules.factor and rate > usual + rules.margin:
            found.append(
                Alert(
                    "failure_rate",
                    name,
                    f"{name} failed {rate:.0%} of {ended} runs in the last "
                    f"{duration_in_words(rules.recent_s)}; normal is {usual:.0%}",
                )
            )
    return found


def ended_by_name(totals: Iterable[HistoryTotal]) -> dict[str, tuple[int, int]]:
    """(failed, completed + failed) of each job name."""
    found: dict[str, tuple[int, int]] = {}
    for total in totals:
        failed, ended = found.get(total.name, (0, 0))
        if total.state == "failed":
            found[total.name] = (failed + total.runs, ended + total.runs)
        elif total.state == "completed":
            found[total.name] = (failed, ended + total.runs)
    return found


def normal_in_words(rules: AlertRules) -> str:
    """How the failure-rate alert defines normal, as the overview and the API say it."""
    return (
        f"a job name's failure rate over the {rules.recent_s // 60} minutes before now, once "
        f"{rules.min_runs} or more ended, against its rate over the "
        f"{rules.normal_s // 86400} days before that (to the whole hour): above both "
        f"{rules.factor:g} times "
        f"and {rules.margin:.0%} points more"
    )


def duration_in_words(seconds: float) -> str:
    """'45 s', '12 min', '3 h', '2 d'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def windows(
    rules: AlertRules, now: datetime
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """The normal window and the recent one. Normal ends at the whole hour before the recent
    window starts: read from hour buckets, it must not hold a bucket the recent jobs are in."""
    recent = now - timedelta(seconds=rules.recent_s)
    normal_end = datetime.fromtimestamp(bucket_start(recent.timestamp(), HOUR_S), now.tzinfo)
    return (normal_end - timedelta(seconds=rules.normal_s), normal_end), (recent, now)
