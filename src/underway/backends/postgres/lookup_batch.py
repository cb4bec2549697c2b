"""Storing a batch of join/skip and bounded unique="queue" jobs on PostgreSQL at once
(`lookup_batches` decides): every fingerprint's lock taken in one statement, in sorted
order, then every lookup, then one bulk insert; one round trip each, where one by one each
job took four."""

from __future__ import annotations

from collections.abc import Sequence

from ...models import EnqueueResult, NewJob
from .. import lookup_batches
from . import reads
from .enqueue import (
    DUPLICATE_OF,
    FINGERPRINT_LOCK_PREFIX,
    WAITING_RUNS,
    IdTaken,
    duplicate_window,
    enqueue_plain,
)
from .tx import Tx

#: The fingerprints' locks, as `enqueue_one` takes each, in the order given (sorted, so two
#: batches never wait on each other's locks in a cycle).
LOCK_ALL = """
SELECT count(pg_advisory_xact_lock(hashtextextended(f, 0)))
FROM unnest(%s::text[]) WITH ORDINALITY AS l(f, n)
"""
#: Each (fingerprint, window)'s active duplicate, as ACTIVE_DUPLICATE finds one.
ACTIVE_DUPLICATES = (
    "SELECT w.n AS lookup, d.* FROM unnest(%s::text[], %s::float8[]) WITH ORDINALITY"
    " AS w(fp, win, n) CROSS JOIN LATERAL ("
    + DUPLICATE_OF.replace("FINGERPRINT", "w.fp").replace("WINDOW", "w.win")
    + ") AS d"
)
#: How many runs of each unique="queue" fingerprint wait, as WAITING_SAME counts them.
WAITING_ALL = (
    "SELECT w.fp, (SELECT count(*) FROM "
    + WAITING_RUNS.replace("FINGERPRINT", "w.fp")
    + ") AS n FROM unnest(%s::text[]) AS w(fp)"
)


async def enqueue_looked_up(tx: Tx, jobs: Sequence[NewJob]) -> list[EnqueueResult] | None:
    """Store a `lookup_batches.batchable` batch, each job resolved as `enqueue_one` would
    have; None, with nothing stored, when it must go one by one (its locks stay taken)."""
    fingerprints = sorted({job.fingerprint for job in jobs if job.fingerprint is not None})
    windows = lookup_batches.windows_of(jobs)
    locks = [f"{FINGERPRINT_LOCK_PREFIX}{fingerprint}" for fingerprint in fingerprints]
    lookups = ([fp for fp, _ in windows], [duplicate_window(window) for _, window in windows])
    _, found, counts = await tx.batch(
        [
            (LOCK_ALL, (locks,)),
            (ACTIVE_DUPLICATES, lookups),
            (WAITING_ALL, (lookup_batches.queued_of(jobs),)),
        ]
    )
    active = {windows[row["lookup"] - 1]: reads.job(row) for row in found}
    waiting = {row["fp"]: int(row["n"]) for row in counts}
    resolution = lookup_batches.resolve(jobs, active, waiting)
    if resolution is None:
        return None
    inserted = await _insert_all(tx, resolution.stored)
    return None if inserted is None else resolution.results(inserted, jobs)


async def _insert_all(tx: Tx, jobs: list[NewJob]) -> dict[str, EnqueueResult] | None:
    """Insert every job, by id, or none (None): a job whose id or active fingerprint is
    taken undoes the others (a savepoint, needed only where there are others)."""
    if len(jobs) <= 1:
        inserted = await enqueue_plain(tx, jobs) if jobs else {}
        return inserted if len(inserted) == len(jobs) else None
    try:
        async with tx.savepoint():
            inserted = await enqueue_plain(tx, jobs)
            if len(inserted) < len(jobs):
                raise IdTaken
    except IdTaken:
        return None
    return inserted
