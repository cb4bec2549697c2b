"""Single-instance guarantees under real races between processes (issue: single-instance jobs)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import Any

from tests.overlap import peak_of_spans
from tests.processes.conftest import Cluster
from tests.waiting import wait_until
from underway import JobState

PROCESSES, THREADS = 8, 25


def race(cluster: Cluster, mode: str) -> None:
    """Start 8 enqueuer processes x 25 threads and let them all go at the same instant."""
    for _ in range(PROCESSES):
        cluster.spawn("enqueue", mode, str(THREADS))
    wait_until(lambda: len(list(cluster.directory.glob("ready-*"))) == PROCESSES, timeout=60)
    (cluster.directory / "go").touch()
    wait_until(
        lambda: sum(c["ev"] == "enqueued" for c in cluster.callers()) == PROCESSES * THREADS,
        timeout=60,
    )


def test_join_race_makes_one_job_and_every_caller_gets_its_result(cluster: Cluster) -> None:
    cluster.start_workers(1)
    race(cluster, "join")
    jobs = cluster.app.list(name="joined_work", limit=1000)
    assert len(jobs) == 1
    cluster.release("joined_work")
    wait_until(lambda: sum(c["ev"] == "result" for c in cluster.callers()) == 200, timeout=60)
    results = [c["result"] for c in cluster.callers() if c["ev"] == "result"]
    assert len({str(r) for r in results}) == 1
    assert {c["id"] for c in cluster.callers()} == {jobs[0].id}
    assert sum(c["joined"] for c in cluster.callers() if c["ev"] == "enqueued") == 199
    assert [r["ev"] for r in cluster.ledger()] == ["start", "end"], "the body ran once"


def test_skip_race_leaves_one_runnable_job_and_the_rest_skipped(cluster: Cluster) -> None:
    race(cluster, "skip")
    jobs = cluster.app.list(name="skipped_work", limit=1000)
    runnable = [j for j in jobs if j.state is not JobState.SKIPPED]
    assert len(runnable) == 1
    assert len(jobs) == 200
    assert {j.duplicate_of for j in jobs if j.state is JobState.SKIPPED} == {runnable[0].id}
    states = Counter(c["state"] for c in cluster.callers())
    assert states == {"skipped": 199, "pending": 1}


def test_queue_mode_never_overlaps_runs_of_one_fingerprint(cluster: Cluster) -> None:
    cluster.app.enqueue_many("queued_work", [{"key": "k", "n": n} for n in range(30)])
    cluster.start_workers(3)
    wait_until(lambda: cluster.app.stats().counts.get("completed") == 30, timeout=60)
    spans = sorted(intervals(cluster.ledger()).values())
    assert len(spans) == 30
    for (_, previous_end), (start, _) in itertools.pairwise(spans):
        assert start >= previous_end, "two runs of one fingerprint overlapped"
    order = [r["n"] for r in sorted(cluster.ledger(), key=lambda r: r["t"]) if r["ev"] == "start"]
    assert order == list(range(30)), "queued requests run in order"


def test_concurrency_per_key_is_never_exceeded(cluster: Cluster) -> None:
    cluster.app.enqueue_many(
        "tenant_work", [{"tenant": t, "n": n} for n in range(20) for t in ("a", "b", "c")]
    )
    cluster.start_workers(3, concurrency=4)
    wait_until(lambda: cluster.app.stats().counts.get("completed") == 60, timeout=90)
    by_tenant: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ledger = cluster.ledger()
    tenants = {r["job"]: r["tenant"] for r in ledger}
    for job, span in intervals(ledger).items():
        by_tenant[tenants[job]].append(span)
    assert {tenant: peak_of_spans(spans) for tenant, spans in by_tenant.items()} == {
        "a": 3,
        "b": 3,
        "c": 3,
    }


def intervals(ledger: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    starts = {r["job"]: r["t"] for r in ledger if r["ev"] == "start"}
    ends = {r["job"]: r["t"] for r in ledger if r["ev"] == "end"}
    return {job: (starts[job], ends[job]) for job in starts}
