"""Storing a batch of join/skip and bounded unique="queue" jobs on SQLite at once
(`lookup_batches` decides): every fingerprint looked up by two statements, then one bulk
insert, where one by one each job took a lookup and an insert. SQLite's writers take turns:
no lock is needed between the lookups and the insert."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from ...models import EnqueueResult, NewJob
from .. import lookup_batches
from . import reads
from .enqueue import DUPLICATE_OF, WAITING_RUNS, duplicates_since, enqueue_plain

#: Each (fingerprint, window start)'s active duplicate, as ACTIVE_DUPLICATE finds one; the
#: lookups a JSON array of [fingerprint, window start] arrays.
ACTIVE_DUPLICATES = (
    "SELECT w.key AS lookup, d.* FROM json_each(?) AS w JOIN underway_jobs AS d ON d.id = ("
    + DUPLICATE_OF.replace("SELECT *", "SELECT id", 1)
    .replace("FINGERPRINT", "json_extract(w.value, '$[0]')")
    .replace("SINCE", "json_extract(w.value, '$[1]')")
    + ")"
)
#: How many runs of each unique="queue" fingerprint (a JSON array) wait, as WAITING_SAME
#: counts them.
WAITING_ALL = (
    "SELECT w.value AS fp, (SELECT count(*) FROM "
    + WAITING_RUNS.replace("FINGERPRINT", "w.value")
    + ") AS n FROM json_each(?) AS w"
)


def enqueue_looked_up(
    conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
) -> list[EnqueueResult] | None:
    """Store a `lookup_batches.batchable` batch, each job resolved as `enqueue_one` would
    have; None, with nothing stored, when it must go one by one."""
    windows = lookup_batches.windows_of(jobs)
    starts = [[fp, duplicates_since(window, now)] for fp, window in windows]
    found = conn.execute(ACTIVE_DUPLICATES, (json.dumps(starts),)).fetchall()
    active = {windows[row["lookup"]]: reads.job(row) for row in found}
    queued = lookup_batches.queued_of(jobs)
    counts = conn.execute(WAITING_ALL, (json.dumps(queued),)).fetchall() if queued else []
    resolution = lookup_batches.resolve(jobs, active, {row["fp"]: row["n"] for row in counts})
    if resolution is None:
        return None
    stored = enqueue_plain(conn, resolution.stored, now) if resolution.stored else []
    if stored is None:
        return None
    return resolution.results({result.id: result for result in stored}, jobs)
