"""Retry, cancel or delete every job a filter matches: a keyset walk in batches, newest first.

Each batch is changed in one short transaction of its own (`Backend.apply_to_many`, the
one-job statements and their dependants' settling), so a large run never holds a long
transaction or lock, and jobs stored after the walk began are left alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Protocol

from ..models import BulkAction, JobFilter, JobPage

BULK_ACTIONS: tuple[BulkAction, ...] = ("retry", "cancel", "delete")
BATCH_SIZE = 100


class BulkHost(Protocol):
    """What a bulk run needs of an App."""

    async def list_page_async(self, query: JobFilter) -> JobPage: ...
    async def apply_to_many_async(self, action: BulkAction, job_ids: list[str]) -> list[str]: ...


@dataclass(slots=True)
class BulkTally:
    """How far a run has got: jobs changed, and jobs left as they were (in another state,
    gone meanwhile, or a retry refused while a duplicate is active)."""

    done: int = 0
    skipped: int = 0


async def count_matching(app: BulkHost, query: JobFilter, up_to: int | None = None) -> int:
    """How many jobs the filter matches now, or `up_to` when at least that many do."""
    page = await app.list_page_async(replace(whole(query, limit=1), count_limit=up_to))
    return page.total


def whole(query: JobFilter, limit: int) -> JobFilter:
    """The filter over every match, newest stored first, `limit` at a time."""
    return replace(query, limit=limit, offset=0, order="created", scan=None, before=None)


async def run_bulk(
    app: BulkHost,
    action: BulkAction,
    query: JobFilter,
    tally: BulkTally,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Apply `action` to every job `query` matches, one batch of ids after another."""
    walk = whole(query, batch_size)
    while True:
        page = await app.list_page_async(replace(walk, count=False))
        ids = [job.id for job in page.jobs]
        changed = await app.apply_to_many_async(action, ids) if ids else []
        tally.done += len(changed)
        tally.skipped += len(ids) - len(changed)
        if page.next_before is None or not ids:
            return
        walk = replace(walk, before=page.next_before)
        await asyncio.sleep(0)  # let the server's other requests in between batches
