"""Writing the history on PostgreSQL: the rollup that folds finished jobs into minute and hour
buckets past its watermark (one transaction holding the watermark's row; a rollup that finds
it held skips its turn), the folding of jobs pruned before the rollup reached them (pruning
waits for the row), and the records of jobs taken back from lost workers. `history_rules`
decides; this module reads and writes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import history_rules as rules
from ..history_rules import FinishedJob, Key, Tally
from .tx import Row, Tx

#: The watermark's row, taken for this rollup; none if another rollup holds it.
TAKE_WATERMARK = """
SELECT folded_at, folded_seq FROM {schema}.history_rollup WHERE id = 1 FOR UPDATE SKIP LOCKED
"""
#: The watermark's row, waited for: a prune folds what the rollup has not reached.
HOLD_WATERMARK = "SELECT 1 FROM {schema}.history_rollup WHERE id = 1 FOR UPDATE"
ADVANCE = "UPDATE {schema}.history_rollup SET folded_at = %s, folded_seq = %s WHERE id = 1"
#: Finished jobs past the watermark, in its order (the table's own finished_at, not the epoch
#: of the same name), that finished `settle` seconds ago or more.
UNFOLDED = """
SELECT j.seq, j.queue, j.name, j.state, extract(epoch FROM j.run_at)::float8 AS run_at,
    extract(epoch FROM j.started_at)::float8 AS started_at,
    extract(epoch FROM j.finished_at)::float8 AS finished_at, j.finished_at AS finished_stamp
FROM {schema}.jobs AS j
WHERE j.finished_at IS NOT NULL AND (j.finished_at, j.seq) > (%(at)s, %(seq)s)
  AND j.finished_at <= now() - make_interval(secs => %(settle)s)
ORDER BY j.finished_at, j.seq LIMIT %(n)s
"""
NOW = "SELECT extract(epoch FROM now())::float8 AS now"
#: Buckets of one span whose start lies in a range (to add new counts to).
STORED = """
SELECT span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits
FROM {schema}.history WHERE span_s = %s AND at BETWEEN %s AND %s
"""
#: Buckets to store, one array a column (a histogram as its array's text): one statement.
UPSERT = """
INSERT INTO {schema}.history
    (span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits)
SELECT span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum,
    durations::bigint[], waits::bigint[]
FROM unnest(%s::int[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[],
            %s::bigint[], %s::float8[], %s::float8[], %s::text[], %s::text[])
     AS r(span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations,
          waits)
ON CONFLICT (span_s, at, queue, name, state) DO UPDATE SET
    runs = excluded.runs, timed = excluded.timed, duration_sum = excluded.duration_sum,
    wait_sum = excluded.wait_sum, durations = excluded.durations, waits = excluded.waits
"""
DELETE_OLD_MINUTES = "DELETE FROM {schema}.history WHERE span_s = 60 AND at < %s"
DELETE_OLD_HOURS = "DELETE FROM {schema}.history WHERE span_s = 3600 AND at < %s"
DELETE_OLD_LOSSES = (
    "DELETE FROM {schema}.worker_losses WHERE lost_at < now() - make_interval(secs => %s)"
)
#: Jobs taken back from workers, with what the workers table still knows of each worker.
RECORD_LOSSES = """
INSERT INTO {schema}.worker_losses
    (worker_id, hostname, pid, last_seen_at, job_id, name, attempt, became, lost_at)
SELECT l.worker_id, w.hostname, w.pid, w.heartbeat_at, l.job_id, l.name, l.attempt, l.became,
    now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::text[])
     AS l(worker_id, job_id, name, attempt, became)
LEFT JOIN {schema}.workers AS w ON w.id = l.worker_id
"""


def finished_job(row: Row) -> FinishedJob:
    return FinishedJob(
        int(row["seq"]),
        row["queue"],
        row["name"],
        row["state"],
        float(row["run_at"]),
        None if row["started_at"] is None else float(row["started_at"]),
        float(row["finished_at"]),
    )


async def roll_up(tx: Tx, settle_s: float) -> int:
    """Fold up to a batch of finished jobs past the watermark into minute and hour buckets and
    move the watermark past them; delete old minutes, old hours and old loss records.
    Returns how many jobs were folded (0 if another rollup holds the watermark)."""
    mark = await tx.row(TAKE_WATERMARK)
    if mark is None:
        return 0
    params = {
        "at": mark["folded_at"],
        "seq": mark["folded_seq"],
        "settle": float(settle_s),
        "n": rules.FOLD_BATCH,
    }
    rows = await tx.rows(UNFOLDED, params)
    if rows:
        await write_folded(tx, rules.fold(finished_job(row) for row in rows))
        await tx.run(ADVANCE, (rows[-1]["finished_stamp"], rows[-1]["seq"]))
    now_row = await tx.row(NOW)
    assert now_row is not None
    now = float(now_row["now"])
    await tx.run(DELETE_OLD_MINUTES, (rules.minutes_cutoff(now),))
    await tx.run(DELETE_OLD_HOURS, (rules.hours_cutoff(now),))
    await tx.run(DELETE_OLD_LOSSES, (float(rules.KEEP_LOSSES_S),))
    return len(rows)


async def hold_watermark(tx: Tx) -> None:
    """Wait for the watermark's row, so that no rollup folds what this transaction prunes."""
    await tx.run(HOLD_WATERMARK)


async def fold_pruned(tx: Tx, pruned: Iterable[Row]) -> None:
    """Fold the pruned jobs the rollup has not reached (rows with UNFOLDED's columns and
    `unfolded`, computed against the watermark this transaction holds)."""
    jobs = [finished_job(row) for row in pruned if row["unfolded"]]
    if jobs:
        await write_folded(tx, rules.fold(jobs))


async def write_folded(tx: Tx, minutes: dict[Key, Tally]) -> None:
    """Add folded minutes, and the hours they make, to the stored buckets."""
    hours = rules.coarsen(minutes.items())
    await write(tx, minutes)
    await write(tx, hours)


async def write(tx: Tx, tallies: dict[Key, Tally]) -> None:
    """Add these buckets to the stored ones (buckets of one span)."""
    if not tallies:
        return
    span = next(iter(tallies))[0]
    first, last = rules.span_of(tallies)
    stored = await tx.rows(STORED, (span, first, last))
    rows = rules.merged(tallies, (tally_of(row) for row in stored))
    columns = zip(*(row_of(key, tally) for key, tally in rows.items()), strict=True)
    await tx.run(UPSERT, [list(column) for column in columns])


async def record_losses(tx: Tx, losses: list[tuple[str | None, str, str, int, str]]) -> None:
    """Remember the jobs a sweep took back (worker, job, name, attempt, what it became)."""
    if losses:
        columns = list(zip(*losses, strict=True))
        worker_ids = [worker_id or "?" for worker_id in columns[0]]
        await tx.run(RECORD_LOSSES, (worker_ids, *[list(column) for column in columns[1:]]))


def tally_of(row: Row) -> tuple[Key, Tally]:
    key = (int(row["span_s"]), int(row["at"]), row["queue"], row["name"], row["state"])
    tally = Tally(
        int(row["runs"]),
        int(row["timed"]),
        float(row["duration_sum"]),
        float(row["wait_sum"]),
        [int(n) for n in row["durations"]],
        [int(n) for n in row["waits"]],
    )
    return key, tally


def row_of(key: Key, tally: Tally) -> tuple[Any, ...]:
    return (
        *key,
        tally.runs,
        tally.timed,
        tally.duration_sum_s,
        tally.wait_sum_s,
        "{" + ",".join(map(str, tally.durations)) + "}",
        "{" + ",".join(map(str, tally.waits)) + "}",
    )
