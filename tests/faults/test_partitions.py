"""A worker cut off from its database under steady load (R3 fencing, R5 recovery).

PostgreSQL: a TCP proxy between one worker and the server stops forwarding, then forwards
again (what waited arrives late, as after a healed partition). SQLite: every storage call of
that worker fails while a file exists (UNDERWAY_PARTITION_FILE). The other worker is never
cut off. Cuts of several lengths land before and after the moment the cut-off worker gives
its leases up and the moment the other worker's sweeper may rescue them.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.faults.harness import RECOVERY_BOUND_S, FaultRun, check, report, violations_of
from tests.partition_proxy import cuttable
from tests.waiting import wait_until
from underway import JobState

#: Seconds each cut lasts: around the self-fence (stall 3 s - 0.25 s) and the rescue (3 s +
#: sweep 0.5 s), and one well past both.
CUTS_S = (2.9, 3.2, 3.6, 5.0)
JOB_MS = 4000
#: The load: a batch of this many jobs every JOB_MS. One wake-up per batch lets both workers
#: claim from it, so the one to be cut off holds jobs at every cut.
BATCH = 6


def enqueue_steadily(run: FaultRun, stop: threading.Event) -> None:
    n = 0
    while True:
        run.enqueue_many(
            "probe_async", [{"key": f"s{n + i}", "duration_ms": JOB_MS} for i in range(BATCH)]
        )
        n += BATCH
        if stop.wait(JOB_MS / 1000):
            return


def attempts_of(ledger: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """(job, attempt) -> pid, start time, and how and when its code stopped."""
    found: dict[tuple[str, int], dict[str, Any]] = defaultdict(dict)
    for r in ledger:
        entry = found[(r["job"], r["attempt"])]
        entry["pid"] = r["pid"]
        entry[r["ev"]] = r["t"]
    return found


def steer_jobs_to(run: FaultRun, cut_pid: int, other: subprocess.Popen[bytes]) -> None:
    """Give the worker about to be cut off jobs to hold: the other worker, which would win
    most claims, is held back (SIGSTOP, far shorter than the stall timeout) while it claims."""
    other.send_signal(signal.SIGSTOP)
    try:
        run.enqueue_many(
            "probe_async",
            [{"key": f"c{time.monotonic()}-{i}", "duration_ms": JOB_MS} for i in range(2)],
        )
        wait_until(lambda: held_by(run, cut_pid) >= 1, timeout=10)
    finally:
        other.send_signal(signal.SIGCONT)


def held_by(run: FaultRun, pid: int) -> int:
    running = run.app.list(state=JobState.RUNNING, limit=10_000)
    return sum(1 for job in running if job.worker_id and f":{pid}:" in job.worker_id)


def orphaned_running(run: FaultRun) -> list[str]:
    """Jobs recorded running whose attempt's code was stopped: nobody runs them."""
    attempts = attempts_of(run.ledger())
    return [
        job.id
        for job in run.app.list(state=JobState.RUNNING, limit=10_000)
        if "stopped" in attempts.get((job.id, job.attempt), {})
    ]


def test_a_worker_cut_off_under_steady_load(run: FaultRun, tmp_path: Path) -> None:
    """Jobs the cut-off worker gives up start again elsewhere within the recovery bound,
    never while its attempt still runs, and none stays `running` with nobody running it."""
    stop = threading.Event()
    enqueuer = threading.Thread(target=enqueue_steadily, args=(run, stop))
    cuts: list[tuple[float, float]] = []
    orphans: list[str] = []
    with cuttable(run.url, tmp_path) as switch:
        cut, restore = switch.cut, switch.restore
        run.start_worker(env={**switch.env, "UNDERWAY_DATABASE_URL": switch.url})
        cut_pid = run.workers[0].pid
        other = run.start_worker(concurrency=16)  # room for every job the other one gives up
        wait_until(lambda: len(run.app.workers()) == 2, timeout=30)
        enqueuer.start()
        try:
            for length in CUTS_S:
                steer_jobs_to(run, cut_pid, other)
                began = time.monotonic()
                cut()
                time.sleep(length)  # the fault: the worker is cut off this long
                restore()
                cuts.append((began, time.monotonic()))
                # The load goes on; by the bound every job given up runs elsewhere.
                time.sleep(max(0.0, began + RECOVERY_BOUND_S + 1.0 - time.monotonic()))
                orphans += orphaned_running(run)
        finally:
            stop.set()
            enqueuer.join(30)
            restore()
        wait_until(run.acked_finished, timeout=90)
    figures = check(run)
    attempts = attempts_of(run.ledger())
    given_up, recoveries, overlaps = 0, [], []
    for (job_id, attempt), entry in attempts.items():
        following = attempts.get((job_id, attempt + 1))
        ended = entry.get("stopped", entry.get("end"))
        if following is not None and "start" in following and ended is not None:
            # An attempt's code still running when the next attempt began: a zombie overlap.
            overlaps.append(max(0.0, ended - following["start"]))
        if "stopped" not in entry:
            continue
        given_up += 1
        cut_at = max((b for b, _ in cuts if b <= entry["stopped"]), default=None)
        assert following is not None, f"{job_id} never ran again"
        if cut_at is not None:
            recoveries.append(following["start"] - cut_at)
    figures.recover_s_p50 = round(sorted(recoveries)[len(recoveries) // 2], 2) if recoveries else 0
    figures.recover_s_max = round(max(recoveries), 2) if recoveries else 0
    zombie_overlap_ms = round(max(overlaps, default=0.0) * 1000)
    figures.worker_exits = sum(1 for p in run.workers if p.poll() is not None)
    figures.notes.update(
        cuts_s=list(CUTS_S),
        given_up=given_up,
        orphaned_running=len(set(orphans)),
        zombie_overlap_ms=zombie_overlap_ms,
    )
    violations = violations_of(figures)
    if orphans:
        violations.append(f"orphaned_running={len(set(orphans))}")
    if zombie_overlap_ms:
        violations.append(f"zombie_overlap_ms={zombie_overlap_ms}")
    report(figures, violations)
    assert given_up > 0, "the cuts made the worker give jobs up"
    assert figures.worker_exits == 0
    assert not violations
