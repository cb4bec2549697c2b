"""Several worker processes on one SQLite file: no job runs twice; killed workers are recovered."""

from __future__ import annotations

import signal
import time
from collections import Counter

from tests.processes.conftest import Cluster
from tests.waiting import wait_until
from underway import JobState


def test_two_workers_on_one_file_never_run_a_job_twice(cluster: Cluster) -> None:
    cluster.start_workers(2)
    handles = cluster.app.enqueue_many(
        "plain_work", [{"n": n, "duration_ms": 5} for n in range(400)]
    )
    wait_until(lambda: cluster.app.stats().counts.get("completed") == 400, timeout=60)
    starts = Counter(r["job"] for r in cluster.ledger() if r["ev"] == "start")
    assert set(starts) == {h.id for h in handles}
    assert max(starts.values()) == 1
    assert len({r["pid"] for r in cluster.ledger()}) == 2, "both workers took part"


def test_a_sigkilled_workers_join_job_is_recovered_and_joiners_get_one_result(
    cluster: Cluster,
) -> None:
    [doomed] = cluster.start_workers(1)
    first = cluster.app.enqueue("killable_work", {"key": "k"})
    joiners = [cluster.app.enqueue("killable_work", {"key": "k"}) for _ in range(5)]
    assert all(h.joined and h.id == first.id for h in joiners)
    wait_until(lambda: any(r["ev"] == "start" for r in cluster.ledger()))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(5)
    cluster.start_workers(1)
    results = [h.result(timeout=20) for h in [first, *joiners]]
    assert results == [{"key": "k", "attempt": 2}] * 6
    job = cluster.app.get(first.id)
    assert (job.state, job.attempt) == (JobState.COMPLETED, 2)
    assert job.errors[0].type == "WorkerLost"
    assert len(cluster.app.list(name="killable_work")) == 1


def test_run_or_join_works_with_a_worker_in_another_process(cluster: Cluster) -> None:
    cluster.start_workers(1)
    assert cluster.app.run("plain_work", {"n": 5}) == 5
    assert cluster.app.run("plain_work", {"n": 5}) == 5, "a finished run is not joined"
    assert len(cluster.app.list(name="plain_work")) == 2


def test_a_job_enqueued_by_another_process_wakes_an_idle_worker(cluster: Cluster) -> None:
    """SQLite has no LISTEN: the enqueuing process wakes the worker with a datagram."""
    cluster.start_workers(1, env={"PROBE_POLL_INTERVAL": "60"})
    waits = []
    for n in range(5):
        began = time.monotonic()
        handle = cluster.app.enqueue("plain_work", {"n": n})
        wait_until(
            lambda h=handle: any(  # type: ignore[misc]
                r["job"] == h.id and r["ev"] == "end" for r in cluster.ledger()
            ),
            timeout=10,
            interval=0.002,
        )
        waits.append(time.monotonic() - began)
    assert max(waits) < 10, "well before the 60 s poll"
