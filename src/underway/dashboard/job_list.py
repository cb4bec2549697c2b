"""The job list: filters, a search that reads one page of matches at a time, sorts, pages.

Plain listings count their matches and page by number. A search does not count: it reads
newest first until a page is full or it has looked at `SEARCH_SCAN` jobs, and links to the
next page by position, so that its cost does not grow with the table. Sorting by start or
duration ranks the newest `SORT_WINDOW` matches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from ..backends.policy import SORT_WINDOW
from ..models import JobFilter, JobState, ListOrder
from ..web.urls import root_path
from .access import Denied, require_view
from .error_pages import guarded
from .pages import MAX_PAGE, app_of
from .rendering import render

PER_PAGE = 20
SEARCH_SCAN = 100_000
#: A plain listing counts its matches up to this many ("10,000+" beyond).
COUNT_LIMIT = 10_000
STATES = frozenset(state.value for state in JobState)
SORTS: dict[str, str] = {
    "created": "newest first",
    "started": "latest started",
    "duration": "longest running",
}
#: A listing position as the backends write them: a seq (SQLite) or a job id (PostgreSQL).
POSITION = r"^[0-9A-Za-z-]{1,64}$"

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The job list's filters as the page's form and links carry them."""

    state: str = ""
    name: str = ""
    queue: str = ""
    q: str = ""
    sort: str = "created"
    #: A search's next page starts below this position.
    before: str | None = None

    @property
    def order(self) -> ListOrder:
        orders: dict[str, ListOrder] = {"started": "started", "duration": "duration"}
        return orders.get(self.sort, "created")

    @property
    def by_position(self) -> bool:
        """A search in the stored order pages by position; everything else by number."""
        return bool(self.q) and self.order == "created"

    def check(self) -> None:
        """Refuse a state or sort that is not one: it would otherwise widen the filter."""
        if self.state and self.state not in STATES:
            raise Denied(400, f"There is no job state {self.state!r}: {', '.join(sorted(STATES))}.")
        if self.sort not in SORTS:
            raise Denied(400, f"Sort by {', '.join(SORTS)}, not {self.sort!r}.")

    def matching(self) -> JobFilter:
        """Every job these filters match (a bulk action's filter)."""
        self.check()
        states = (JobState(self.state),) if self.state else ()
        return JobFilter(
            states=states, name=self.name or None, queue=self.queue or None, search=self.q or None
        )

    def query(self, page: int) -> JobFilter:
        offset = (page - 1) * PER_PAGE
        found = replace(self.matching(), limit=PER_PAGE, offset=offset, order=self.order)
        if not self.q:
            return replace(found, count_limit=COUNT_LIMIT + 1)
        offset = 0 if self.by_position else offset
        return replace(found, scan=SEARCH_SCAN, count=False, before=self.before, offset=offset)

    def params(self) -> dict[str, str]:
        """The filters as query parameters, without the defaults."""
        shown = {"state": self.state, "name": self.name, "queue": self.queue, "q": self.q}
        if self.sort != "created":
            shown["sort"] = self.sort
        return {key: value for key, value in shown.items() if value}

    def url(self, base: str, page: int = 1, before: str | None = None) -> str:
        params = self.params()
        if page > 1:
            params["page"] = str(page)
        if before is not None:
            params["before"] = before
        return f"{base}?{urlencode(params)}" if params else base


def pager(
    filters: ListFilters, page: int, total: int, shown: int, more: str | None, base: str
) -> dict[str, Any]:
    """The links and words of the pager, for a counted listing or a search."""
    if not filters.q:
        return counted_pager(filters, page, total, shown, base)
    if not filters.by_position:
        return {
            "counted": False,
            "note": f"{matches(shown)}, ranked among matches in the newest {SEARCH_SCAN:,} jobs",
            "prev_url": filters.url(base, page - 1) if page > 1 else None,
            "next_url": filters.url(base, page + 1) if shown == PER_PAGE else None,
            "next_label": "Next",
            "windowed": False,
        }
    if more is None:
        note = f"{matches(shown)}; searched back to the oldest job"
    elif shown < PER_PAGE:
        note = f"{matches(shown)}; searched {SEARCH_SCAN:,} jobs, older ones not yet"
    else:
        note = matches(shown)
    return {
        "counted": False,
        "note": note,
        "prev_url": filters.url(base) if filters.before is not None else None,
        "next_url": filters.url(base, before=more) if more is not None else None,
        "next_label": "Search older" if shown < PER_PAGE else "Next",
        "windowed": False,
    }


def counted_pager(
    filters: ListFilters, page: int, total: int, shown: int, base: str
) -> dict[str, Any]:
    """Pages by number; past the count's limit, a newest-first list pages on while full."""
    capped = total > COUNT_LIMIT
    sorted_ = filters.order != "created"
    pages = max(1, -(-min(total, SORT_WINDOW if sorted_ else COUNT_LIMIT) // PER_PAGE))
    goes_on = capped and not sorted_ and shown == PER_PAGE
    return {
        "counted": True,
        "total_text": f"{COUNT_LIMIT:,}+" if capped else f"{total:,}",
        "pages_text": f"{pages:,}+" if capped and not sorted_ else f"{pages:,}",
        "first": (page - 1) * PER_PAGE + 1 if shown else 0,
        "last": (page - 1) * PER_PAGE + shown,
        "prev_url": filters.url(base, page - 1) if page > 1 else None,
        "next_url": filters.url(base, page + 1) if page < pages or goes_on else None,
        "windowed": sorted_ and total > SORT_WINDOW,
    }


def matches(shown: int) -> str:
    return f"{shown} match{'es' if shown != 1 else ''} on this page"


async def jobs_context(request: Request, filters: ListFilters, page: int) -> dict[str, Any]:
    app, root = app_of(request), root_path(request.scope)
    found = await app.list_page_async(filters.query(page))
    base = f"{root}/dashboard/jobs"
    return {
        "jobs": found.jobs,
        "total": found.total,
        "page": page,
        "filters": filters,
        "sort_window": SORT_WINDOW,
        "sorts": SORTS,
        "now": datetime.now(UTC),
        "self_url": filters.url(base, page, filters.before),
        "live_url": filters.url(f"{root}/dashboard/live/jobs", page, filters.before),
        "bulk_url": filters.url(f"{root}/dashboard/bulk"),
        "names": sorted(app.registry),
        "queues": sorted(app.queues()),
        "states": [s.value for s in JobState],
        **pager(filters, page, found.total, len(found.jobs), found.next_before, base),
    }


def list_filters(
    state: str = Query("", max_length=200),
    name: str = Query("", max_length=200),
    queue: str = Query("", max_length=200),
    q: str = Query("", max_length=200),
    sort: str = Query("created", max_length=20),
    before: str | None = Query(None, pattern=POSITION),
) -> ListFilters:
    return ListFilters(state=state, name=name, queue=queue, q=q.strip(), sort=sort, before=before)


Filters = Depends(list_filters)
Page = Query(1, ge=1, le=MAX_PAGE)


@router.get("/dashboard/jobs")
@guarded
async def job_list(request: Request, filters: ListFilters = Filters, page: int = Page) -> Response:
    viewer = require_view(request)
    context = await jobs_context(request, filters, page)
    return render(request, viewer, "jobs.html", **context)


@router.get("/dashboard/live/jobs")
@guarded
async def job_list_live(
    request: Request, filters: ListFilters = Filters, page: int = Page
) -> Response:
    viewer = require_view(request)
    context = await jobs_context(request, filters, page)
    return render(request, viewer, "_jobs.html", **context)
