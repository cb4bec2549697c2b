"""Retry, cancel or delete every job a filter matches: a keyset walk in batches, newest first.

Each job is changed by the backend's own operation for one job (one short transaction, its
dependants settled as usual), so a large run never holds a long transaction or lock, and jobs
stored after the walk began are left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from ..errors import DuplicateJobError, InvalidStateError, JobNotFound
from ..models import JobFilter, JobPage

BulkAction = Literal["retry", "cancel", "delete"]
BULK_ACTIONS: tuple[BulkAction, ...] = ("retry", "cancel", "delete")
BATCH_SIZE = 100


class BulkHost(Protocol):
    """What a bulk run needs of an App."""

    async def list_page_async(self, query: JobFilter) -> JobPage: ...
    async def retry_async(self, job_id: str) -> Any: ...
    async def cancel_async(self, job_id: str) -> Any: ...
    async def delete_async(self, job_id: str) -> None: ...


@dataclass(slots=True)
class BulkTally:
    """How far a run has got: jobs changed, and jobs left as they were (already in another
    state, gone meanwhile, or a duplicate of an active job)."""

    done: int = 0
    skipped: int = 0


def operation(app: BulkHost, action: BulkAction) -> Callable[[str], Awaitable[Any]]:
    """The App's operation on one job for `action`."""
    operations = {"retry": app.retry_async, "cancel": app.cancel_async, "delete": app.delete_async}
    return operations[action]


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
    apply = operation(app, action)
    walk = whole(query, batch_size)
    while True:
        page = await app.list_page_async(replace(walk, count=False))
        for job in page.jobs:
            try:
                await apply(job.id)
                tally.done += 1
            except (InvalidStateError, JobNotFound, DuplicateJobError):
                tally.skipped += 1
        if page.next_before is None or not page.jobs:
            return
        walk = replace(walk, before=page.next_before)
        await asyncio.sleep(0)  # let the server's other requests in between batches
