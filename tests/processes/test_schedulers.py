"""Several scheduler processes on one database: each tick makes exactly one job."""

from __future__ import annotations

import itertools
import random
import signal
from collections import Counter
from datetime import timedelta

from tests.processes.conftest import Cluster
from tests.ticks import EverySecond
from tests.waiting import wait_until


def test_three_scheduler_processes_fire_each_tick_exactly_once(cluster: Cluster) -> None:
    cluster.app.schedule_for = lambda cron, timezone: EverySecond()
    cluster.app.add_recurring("ticker", "* * * * *", "plain_work", {"n": 0}, overlap="allow")
    cluster.start_workers(3, env={"PROBE_TICKS": "seconds"})
    wait_until(lambda: len(cluster.app.list(name="plain_work", limit=100)) >= 7, timeout=30)
    fired = Counter(job.fire_at for job in cluster.app.list(name="plain_work", limit=100))
    assert set(fired.values()) == {1}, f"a tick fired twice: {fired}"
    ticks = sorted(t for t in fired if t is not None)
    gaps = {b - a for a, b in itertools.pairwise(ticks)}
    assert gaps == {timedelta(seconds=1)}, "no tick was missed while schedulers ran"


def test_ticks_fire_once_while_schedulers_are_killed_and_restarted(cluster: Cluster) -> None:
    """RELIABILITY scenario 21: kill -9 a random scheduler every second; no double, no gap."""
    cluster.app.schedule_for = lambda cron, timezone: EverySecond()
    cluster.app.add_recurring("ticker", "* * * * *", "plain_work", {"n": 0}, overlap="allow")
    env = {"PROBE_TICKS": "seconds"}
    workers = cluster.start_workers(3, env=env)
    rng = random.Random(21)
    for _ in range(4):
        victim = rng.choice([w for w in workers if w.poll() is None])
        wait_until(lambda: len(cluster.app.list(name="plain_work", limit=1000)) >= 2)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        workers = [w for w in workers if w.poll() is None] + cluster.start_workers(1, env=env)
    fired = Counter(job.fire_at for job in cluster.app.list(name="plain_work", limit=1000))
    assert set(fired.values()) == {1}, f"a tick fired twice: {fired}"
    ticks = sorted(t for t in fired if t is not None)
    gaps = {b - a for a, b in itertools.pairwise(ticks)}
    assert gaps == {timedelta(seconds=1)}, "no tick was missed while a scheduler was alive"
