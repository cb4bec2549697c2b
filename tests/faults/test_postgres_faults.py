"""PostgreSQL faults (docs/reliability.md, scenarios 9, 10, 11): killed connections and restarts."""

from __future__ import annotations

import itertools
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.faults.harness import (
    ROOT,
    FaultRun,
    check,
    report,
    terminate_connections,
    violations_of,
)
from tests.postgres.private_postgres import PrivateServer, private_postgres
from tests.ticks import EverySecond
from tests.waiting import wait_until
from underway import App, JobState


@pytest.fixture
def private_run(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[FaultRun, PrivateServer]]:
    """A fault run on a throwaway PostgreSQL server that the test may stop and restart."""
    with private_postgres(durable=True) as server:
        run = FaultRun(tmp_path, request.node.originalname.removeprefix("test_"), server.url)
        run.app.stats()
        yield run, server
        run.stop()


def start_latency(run: FaultRun, key: str) -> float:
    """Seconds from enqueue to the probe's start record (enqueue→start, through LISTEN)."""
    began = time.monotonic()
    job_id = run.enqueue("probe", key=key)
    started = wait_until(
        lambda: next(
            (r["t"] for r in run.ledger() if r["job"] == job_id and r["ev"] == "start"), None
        ),
        timeout=10,
        interval=0.005,
    )
    return float(started - began)


def test_connection_kills_under_load(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """9. Connections killed every second: nothing lost or doubled, no worker exits, LISTEN back."""
    url = str(request.getfixturevalue("pg_url"))
    run = FaultRun(tmp_path, "connection_kills_under_load", url)
    run.app.stats()
    try:
        run.enqueue_many("probe", [{"key": f"k{i}", "duration_ms": 30} for i in range(300)])
        run.start_worker()
        run.start_worker()
        killed = 0
        for _ in range(8):
            time.sleep(1.0)  # the fault's rhythm, not a wait for a condition
            killed += terminate_connections(run)
        wait_until(lambda: run.quiescent(300), timeout=60)
        time.sleep(1.0)  # let the listeners reconnect after the last kill
        latencies = [start_latency(run, f"after{i}") for i in range(5)]
        wait_until(run.acked_finished, timeout=30)
        figures = check(run)
        exits = sum(1 for p in run.workers if p.poll() is not None)
        figures.worker_exits = exits
        figures.notes.update(
            connections_killed=killed,
            relisten_start_latency_p50_ms=round(statistics.median(latencies) * 1000),
        )
        report(figures, violations_of(figures, recovery=False))
        assert exits == 0
        assert figures.completed == 305
        assert statistics.median(latencies) < 0.15, "LISTEN wake-ups are back (poll is 0.2 s)"
        assert not violations_of(figures, recovery=False)
    finally:
        run.stop()


def enqueue_continuously(run: FaultRun, stop: threading.Event, errors: Counter[str]) -> None:
    n = 0
    while not stop.is_set():
        try:
            run.enqueue("probe", key=f"e{n}", duration_ms=10)
        except Exception as exc:  # counted by class; the test demands StorageUnavailable only
            errors[type(exc).__name__] += 1
            time.sleep(0.05)
        n += 1
        time.sleep(0.01)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_with_enqueuers_running(
    private_run: tuple[FaultRun, PrivateServer], mode: str
) -> None:
    """10. Enqueues during the outage fail clearly; workers survive; acked jobs all complete."""
    run, server = private_run
    run.enqueue_many("probe", [{"key": f"k{i}", "duration_ms": 20} for i in range(200)])
    run.start_worker()
    run.start_worker()
    stop, errors = threading.Event(), Counter[str]()
    enqueuer = threading.Thread(target=enqueue_continuously, args=(run, stop, errors))
    enqueuer.start()
    wait_until(lambda: len(run.ledger()) > 50, timeout=30)
    down = time.monotonic()
    server.restart(mode)
    up = time.monotonic()
    wait_until(lambda: any(r["t"] > up for r in run.ledger() if r["ev"] == "start"), timeout=30)
    first_job_after_up = max(0.0, min(r["t"] for r in run.ledger() if r["t"] > up) - up)
    time.sleep(0.5)  # keep enqueueing a little after the restart
    stop.set()
    enqueuer.join(30)
    wait_until(run.acked_finished, timeout=60)
    figures = check(run)
    figures.worker_exits = sum(1 for p in run.workers if p.poll() is not None)
    figures.notes.update(
        mode=mode,
        outage_s=round(up - down, 2),
        time_to_first_job_s=round(first_job_after_up, 2),
        client_errors=dict(errors),
    )
    report(figures, violations_of(figures, recovery=False))
    assert figures.worker_exits == 0
    assert set(errors) <= {"StorageUnavailable"}, errors
    assert not violations_of(figures, recovery=False)


def test_postgres_down_longer_than_the_stall_timeout(
    private_run: tuple[FaultRun, PrivateServer],
) -> None:
    """11. After a long outage every job ends in one state, no orphaned running rows."""
    run, server = private_run
    run.enqueue_many("probe", [{"key": f"k{i}", "duration_ms": 400} for i in range(60)])
    run.start_worker()
    run.start_worker()
    wait_until(lambda: len(run.ledger()) > 10, timeout=30)
    server.stop("fast")
    time.sleep(9.0)  # the fault: three stall timeouts without a database
    server.start()
    wait_until(lambda: run.quiescent(60), timeout=90)
    figures = check(run)
    jobs = run.jobs()
    figures.worker_exits = sum(1 for p in run.workers if p.poll() is not None)
    stuck = sum(1 for j in jobs.values() if j.state is JobState.RUNNING)
    figures.notes.update(stuck_running=stuck, outage_s=9.0)
    report(figures, violations_of(figures, recovery=False))
    assert stuck == 0
    assert figures.worker_exits == 0
    # Two workers of concurrency 4, each holding at most 4 + 2 claimed, unrecorded jobs.
    assert figures.fault_reruns <= 2 * (4 + 2), "at most the jobs in flight re-ran"
    assert not violations_of(figures, recovery=False)


def test_a_worker_started_while_postgresql_is_down_waits_for_it(
    private_run: tuple[FaultRun, PrivateServer],
) -> None:
    """The worker command waits for an unreachable database (capped backoff) instead of
    exiting, runs the queued jobs once it is back, and stops cleanly if told to while it
    waits. (Connections killed as a worker starts made it exit: scenario 9 saw that.)"""
    run, server = private_run
    run.enqueue_many("probe", [{"key": f"k{i}", "duration_ms": 10} for i in range(5)])
    server.stop("fast")
    waiting = run.start_worker()
    stopped = run.start_worker()
    log_of = [run.directory / "worker-1.log", run.directory / "worker-2.log"]
    wait_until(lambda: all("cannot start the worker" in f.read_text() for f in log_of), 30)
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(timeout=15) == 0
    assert waiting.poll() is None
    server.start()
    wait_until(run.acked_finished, timeout=60)
    assert waiting.poll() is None
    assert "started on queues" in log_of[0].read_text()


def test_a_table_lock_held_by_another_session(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """13. ACCESS EXCLUSIVE on the jobs table for 2 s mid-drain: workers wait and go on; no
    exits, no false rescues, nothing lost or doubled; reads wait at most the lock."""
    url = str(request.getfixturevalue("pg_url"))
    schema = str(request.getfixturevalue("pg_schema"))
    run = FaultRun(tmp_path, "a_table_lock_held_by_another_session", url)
    run.app.stats()
    try:
        ids = run.enqueue_many("probe", [{"key": f"k{i}", "duration_ms": 30} for i in range(200)])
        run.start_worker()
        run.start_worker()
        wait_until(lambda: len(run.ledger()) > 40, timeout=30)
        with psycopg.connect(POSTGRES_URL) as locker:
            locker.execute(f'LOCK TABLE "{schema}".jobs IN ACCESS EXCLUSIVE MODE')
            began = time.monotonic()
            reader = threading.Thread(target=run.app.get, args=(ids[-1],))
            reader.start()
            time.sleep(2.0)  # the fault: the lock is held this long
            locker.rollback()
        reader.join(15)
        read_s = time.monotonic() - began
        wait_until(lambda: run.quiescent(200), timeout=60)
        jobs = run.jobs()
        figures = check(run)
        figures.worker_exits = sum(1 for p in run.workers if p.poll() is not None)
        false_rescues = sum(1 for j in jobs.values() for e in j.errors if e.type == "WorkerLost")
        figures.notes.update(
            lock_s=2.0, read_during_lock_s=round(read_s, 2), false_rescues=false_rescues
        )
        report(figures, violations_of(figures, recovery=False))
        assert figures.worker_exits == 0
        assert false_rescues == 0
        assert read_s < 2.0 + 1.0
        assert not violations_of(figures, recovery=False)
    finally:
        run.stop()


def test_connection_exhaustion(tmp_path: Path) -> None:
    """15. Clients exhaust max_connections: they get clear StorageUnavailable errors; workers
    keep their own heartbeat connection, so nothing is falsely rescued and the drain finishes."""
    with private_postgres(max_connections=32) as server:
        run = FaultRun(tmp_path, "connection_exhaustion", server.url)
        run.app.stats()
        clients: list[App] = []
        try:
            run.enqueue_many("probe", [{"key": f"k{i}", "duration_ms": 200} for i in range(150)])
            for _ in range(3):
                run.start_worker(concurrency=4)
            wait_until(lambda: len(run.app.workers()) == 3, timeout=30)
            wait_until(lambda: len(run.ledger()) > 10, timeout=30)
            errors: Counter[str] = Counter()
            stop = threading.Event()

            def hammer(app: App) -> None:
                while not stop.is_set():
                    try:
                        app.stats()
                    except Exception as exc:  # counted by class; only StorageUnavailable is fine
                        errors[type(exc).__name__] += 1
                        time.sleep(0.05)

            clients = [App(server.url, migrate=False) for _ in range(30)]
            threads = [threading.Thread(target=hammer, args=(c,)) for c in clients]
            for thread in threads:
                thread.start()
            time.sleep(4.0)  # the fault: every connection slot is contended for this long
            stop.set()
            for thread in threads:
                thread.join(30)
            wait_until(lambda: run.quiescent(150), timeout=90)
            jobs = run.jobs()
            figures = check(run)
            figures.worker_exits = sum(1 for p in run.workers if p.poll() is not None)
            false_rescues = sum(
                1 for j in jobs.values() for e in j.errors if e.type == "WorkerLost"
            )
            figures.notes.update(client_errors=dict(errors), false_rescues=false_rescues)
            report(figures, violations_of(figures, recovery=False))
            assert set(errors) <= {"StorageUnavailable"}, errors
            assert figures.worker_exits == 0
            assert false_rescues == 0
            assert not violations_of(figures, recovery=False)
        finally:
            for client in clients:
                client.close()
            run.stop()


def test_racing_join_enqueues_with_rolled_back_transactions(
    request: pytest.FixtureRequest, tmp_path: Path, seed: int
) -> None:
    """18. 8 processes race one join fingerprint in their own transactions, 20 % rolled back,
    while earlier jobs finish: a committed caller never holds a job that does not exist."""
    url = str(request.getfixturevalue("pg_url"))
    run = FaultRun(tmp_path, "racing_join_enqueues_with_rolled_back_transactions", url)
    run.app.stats()
    try:
        run.start_worker()
        run.start_worker()
        outs = [tmp_path / f"enqueuer-{i}.jsonl" for i in range(8)]
        enqueuers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.faults.transactional_enqueuer",
                    url,
                    "40",
                    str(seed + i),
                    str(out),
                ],
                cwd=ROOT,
                env=run.env,
            )
            for i, out in enumerate(outs)
        ]
        codes = [p.wait(120) for p in enqueuers]
        calls = [json.loads(line) for out in outs for line in out.read_text().splitlines()]
        committed = [c for c in calls if c["committed"]]
        run.acked.update({c["id"]: c["id"] for c in committed})
        wait_until(run.acked_finished, timeout=60)
        jobs = run.jobs()
        missing = sum(1 for c in committed if c["id"] not in jobs)
        figures = check(run)
        figures.seed = seed
        figures.notes.update(
            calls=len(calls),
            committed=len(committed),
            jobs_created=len(jobs),
            missing_after_rollback=missing,
        )
        report(figures, violations_of(figures, recovery=False))
        assert codes == [0] * 8
        assert missing == 0, "a committed caller joined a job that was rolled back"
        assert all(j.state is JobState.COMPLETED for j in jobs.values())
        assert not violations_of(figures, recovery=False)
    finally:
        run.stop()


def libfaketime() -> str:
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("scenario 8 needs libfaketime: apt-get install faketime (make system-deps)")
    return str(found[0])


def test_a_worker_whose_clock_is_ten_minutes_behind(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """8. Leases and cron ticks use the database's now(): a skewed host changes nothing."""
    url = str(request.getfixturevalue("pg_url"))
    run = FaultRun(tmp_path, "a_worker_whose_clock_is_ten_minutes_behind", url)
    run.app.stats()
    try:
        run.app.schedule_for = lambda cron, timezone: EverySecond()
        tick = run.app.add_recurring("tick", "* * * * *", "probe", {"key": "tick"}, overlap="allow")
        run.enqueue_many("probe", [{"key": f"k{i}", "duration_ms": 300} for i in range(60)])
        ticks = {"PROBE_TICKS": "seconds"}
        skewed = {
            **ticks,
            "LD_PRELOAD": libfaketime(),
            "FAKETIME": "-10m",
            "DONT_FAKE_MONOTONIC": "1",
        }
        run.start_worker(env=skewed)
        run.start_worker(env=ticks)
        time.sleep(6.0)  # the fault: both schedulers and workers run side by side this long
        run.app.toggle_recurring(tick)
        wait_until(lambda: run.quiescent(len(run.jobs())), timeout=60)
        jobs = run.jobs()
        fires = Counter(j.fire_at for j in jobs.values() if j.fire_at is not None)
        gaps = {b - a for a, b in itertools.pairwise(sorted(fires))}
        rescued = sum(1 for j in jobs.values() for e in j.errors if e.type == "WorkerLost")
        run.acked.update({j.id: j.id for j in jobs.values()})
        figures = check(run)
        figures.notes.update(
            rescued_while_alive=rescued,
            ticks=len(fires),
            fires_per_slot=sorted(set(fires.values())),
            missed_slots=sum(int(g.total_seconds()) - 1 for g in gaps),
        )
        report(figures, violations_of(figures, recovery=False))
        failures = [(j.name, j.error) for j in jobs.values() if j.state is JobState.FAILED]
        assert failures == []
        assert rescued == 0
        assert set(fires.values()) == {1}
        assert gaps == {timedelta(seconds=1)}
        assert not violations_of(figures, recovery=False)
    finally:
        run.stop()
