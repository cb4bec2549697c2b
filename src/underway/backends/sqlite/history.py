"""Writing the history on SQLite: the rollup that folds finished jobs into minute and hour
buckets past its watermark (one write transaction: BEGIN IMMEDIATE serialises rollups), the
folding of jobs pruned before the rollup reached them, and the records of jobs taken back
from lost workers. `history_rules` decides; this module reads and writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from .. import history_rules as rules
from ..codecs import data_to_json_text, json_text_to_data
from ..history_rules import FinishedJob, Key, Tally

WATERMARK = "SELECT folded_at, folded_seq FROM underway_history_rollup WHERE id = 1"
ADVANCE = "UPDATE underway_history_rollup SET folded_at = ?, folded_seq = ? WHERE id = 1"
#: Finished jobs past the watermark, in its order, that finished before `upto`.
UNFOLDED = """
SELECT seq, queue, name, state, run_at, started_at, finished_at
FROM underway_jobs INDEXED BY underway_jobs_finished
WHERE finished_at >= :at AND (finished_at > :at OR seq > :seq) AND finished_at <= :upto
ORDER BY finished_at, seq LIMIT :n
"""
ANY_UNFOLDED = """
SELECT 1 FROM underway_jobs INDEXED BY underway_jobs_finished
WHERE finished_at >= :at AND (finished_at > :at OR seq > :seq) AND finished_at <= :upto LIMIT 1
"""
#: Buckets of one span whose start lies in a range (to add new counts to).
STORED = """
SELECT span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits
FROM underway_history WHERE span_s = ? AND at BETWEEN ? AND ?
"""
UPSERT = """
INSERT INTO underway_history
    (span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (span_s, at, queue, name, state) DO UPDATE SET
    runs = excluded.runs, timed = excluded.timed, duration_sum = excluded.duration_sum,
    wait_sum = excluded.wait_sum, durations = excluded.durations, waits = excluded.waits
"""
ANY_OLD_MINUTES = "SELECT 1 FROM underway_history WHERE span_s = 60 AND at < ? LIMIT 1"
DELETE_OLD_MINUTES = "DELETE FROM underway_history WHERE span_s = 60 AND at < ?"
DELETE_OLD_HOURS = "DELETE FROM underway_history WHERE span_s = 3600 AND at < ?"
DELETE_OLD_LOSSES = "DELETE FROM underway_worker_losses WHERE lost_at < ?"
#: A job taken back from a worker, with what the workers table still knows of the worker.
RECORD_LOSS = """
INSERT INTO underway_worker_losses
    (worker_id, hostname, pid, last_seen_at, job_id, name, attempt, became, lost_at)
SELECT :worker_id, w.hostname, w.pid, w.heartbeat_at, :job_id, :name, :attempt, :became, :now
FROM (SELECT 1) LEFT JOIN underway_workers AS w ON w.id = :worker_id
"""


def finished_job(row: Sequence[Any]) -> FinishedJob:
    seq, queue, name, state, run_at, started_at, finished_at = row
    return FinishedJob(
        int(seq),
        str(queue),
        str(name),
        str(state),
        float(run_at),
        None if started_at is None else float(started_at),
        float(finished_at),
    )


def watermark(conn: sqlite3.Connection) -> tuple[float, int]:
    row = conn.execute(WATERMARK).fetchone()
    return float(row[0]), int(row[1])


def rollup_due(conn: sqlite3.Connection, now: float, settle_s: float) -> bool:
    """Whether a rollup has anything to do (read first, so an idle rollup takes no lock)."""
    at, seq = watermark(conn)
    params = {"at": at, "seq": seq, "upto": now - settle_s}
    if conn.execute(ANY_UNFOLDED, params).fetchone() is not None:
        return True
    return conn.execute(ANY_OLD_MINUTES, (rules.minutes_cutoff(now),)).fetchone() is not None


def roll_up(conn: sqlite3.Connection, now: float, settle_s: float) -> int:
    """Fold up to a batch of finished jobs past the watermark into minute and hour buckets and
    move the watermark past them; delete old minutes, old hours and old loss records.
    Returns how many jobs were folded."""
    at, seq = watermark(conn)
    params = {"at": at, "seq": seq, "upto": now - settle_s, "n": rules.FOLD_BATCH}
    jobs = [finished_job(row) for row in conn.execute(UNFOLDED, params).fetchall()]
    if jobs:
        write_folded(conn, rules.fold(jobs))
        conn.execute(ADVANCE, (jobs[-1].finished_at, jobs[-1].seq))
    conn.execute(DELETE_OLD_MINUTES, (rules.minutes_cutoff(now),))
    conn.execute(DELETE_OLD_HOURS, (rules.hours_cutoff(now),))
    conn.execute(DELETE_OLD_LOSSES, (now - rules.KEEP_LOSSES_S,))
    return len(jobs)


def fold_pruned(conn: sqlite3.Connection, pruned: Iterable[Sequence[Any]]) -> None:
    """Fold the jobs a prune deletes that the rollup has not reached (rows as UNFOLDED's)."""
    at, seq = watermark(conn)
    jobs = [finished_job(row) for row in pruned if row[-1] is not None]
    jobs = rules.unfolded(jobs, at, seq)
    if jobs:
        write_folded(conn, rules.fold(jobs))


def write_folded(conn: sqlite3.Connection, minutes: dict[Key, Tally]) -> None:
    """Add folded minutes, and the hours they make, to the stored buckets."""
    hours = rules.coarsen(minutes.items())
    write(conn, minutes)
    write(conn, hours)


def write(conn: sqlite3.Connection, tallies: dict[Key, Tally]) -> None:
    """Add these buckets to the stored ones (buckets of one span)."""
    if not tallies:
        return
    span = next(iter(tallies))[0]
    first, last = rules.span_of(tallies)
    stored = conn.execute(STORED, (span, first, last)).fetchall()
    rows = rules.merged(tallies, (tally_of(row) for row in stored))
    conn.executemany(UPSERT, [row_of(key, tally) for key, tally in rows.items()])


def record_loss(
    conn: sqlite3.Connection,
    worker_id: str | None,
    job_id: str,
    name: str,
    attempt: int,
    became: str,
    now: float,
) -> None:
    """Remember that a sweep took this job back from its worker, and what it became."""
    params = {
        "worker_id": worker_id or "?",
        "job_id": job_id,
        "name": name,
        "attempt": attempt,
        "became": became,
        "now": now,
    }
    conn.execute(RECORD_LOSS, params)


def tally_of(row: Sequence[Any]) -> tuple[Key, Tally]:
    span, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits = row
    key = (int(span), int(at), str(queue), str(name), str(state))
    tally = Tally(
        int(runs),
        int(timed),
        float(duration_sum),
        float(wait_sum),
        list(json_text_to_data(durations)),
        list(json_text_to_data(waits)),
    )
    return key, tally


def row_of(key: Key, tally: Tally) -> tuple[object, ...]:
    return (
        *key,
        tally.runs,
        tally.timed,
        tally.duration_sum_s,
        tally.wait_sum_s,
        data_to_json_text(tally.durations),
        data_to_json_text(tally.waits),
    )
