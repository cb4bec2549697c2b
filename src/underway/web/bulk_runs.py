"""Bulk runs over a filter, started from the API or the dashboard: background tasks on the
server's event loop, their progress kept in memory and their start and end written to the log.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..app.bulk import BulkHost, BulkTally, count_matching, run_bulk
from ..models import BulkAction, JobFilter

log = logging.getLogger("underway.bulk")
KEPT_RUNS = 100


def describe(query: JobFilter) -> str:
    """The filter in words, for the log and the pages: `state=failed name=flaky`."""
    parts = []
    if query.states:
        parts.append("state=" + ",".join(state.value for state in query.states))
    for name, value in (("name", query.name), ("queue", query.queue), ("search", query.search)):
        if value:
            parts.append(f"{name}={value!r}")
    return " ".join(parts) or "every job"


@dataclass(slots=True)
class BulkRun:
    """One bulk action over a filter: who asked, what it matched when it started, how far it is."""

    id: str
    action: BulkAction
    query: JobFilter
    who: str
    #: Jobs the filter matched as the run began; None while they are being counted.
    matched: int | None = None
    tally: BulkTally = field(default_factory=BulkTally)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def filter_text(self) -> str:
        return describe(self.query)


class BulkRuns:
    """The server's bulk runs, newest kept; each runs as its own task."""

    def __init__(self) -> None:
        self._runs: OrderedDict[str, BulkRun] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, run_id: str) -> BulkRun | None:
        return self._runs.get(run_id)

    def start(self, app: BulkHost, action: BulkAction, query: JobFilter, who: str) -> BulkRun:
        """Start the run in the background (it counts the matches first), and log who asked."""
        run = BulkRun(secrets.token_hex(8), action, query, who)
        self._runs[run.id] = run
        while len(self._runs) > KEPT_RUNS:
            self._runs.popitem(last=False)
        log.info("bulk %s %s started by %s: %s", action, run.id, who, run.filter_text)
        task = asyncio.create_task(self._run(app, run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def _run(self, app: BulkHost, run: BulkRun) -> None:
        try:
            run.matched = await count_matching(app, run.query)
            log.info("bulk %s %s: %d matching jobs", run.action, run.id, run.matched)
            await run_bulk(app, run.action, run.query, run.tally)
        except Exception as error:  # the run stops; the page and the log say why
            run.error = f"{type(error).__name__}: {error}"
            log.exception("bulk %s %s by %s stopped", run.action, run.id, run.who)
        finally:
            run.finished_at = datetime.now(UTC)
        log.info(
            "bulk %s %s by %s finished: %s, %d changed, %d left as they were",
            run.action, run.id, run.who, run.filter_text, run.tally.done, run.tally.skipped,
        )  # fmt: skip


def runs_of(state: object) -> BulkRuns:
    """The bulk runs kept on an ASGI app's state, made on first use."""
    runs: BulkRuns | None = getattr(state, "bulk_runs", None)
    if runs is None:
        runs = BulkRuns()
        setattr(state, "bulk_runs", runs)  # noqa: B010
    return runs
