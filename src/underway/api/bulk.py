"""Bulk actions over a filter: retry, cancel or delete every job that matches, in the background.

`POST /api/bulk` with a dry run answers the count of matching jobs; otherwise it starts a run
(202, `Location` its status) that `GET /api/bulk/{id}` follows.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

import pydantic
from fastapi import APIRouter
from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..app import App
from ..app.bulk import count_matching
from ..models import JobFilter, JobState
from ..web.bulk_runs import BulkRun, describe, runs_of
from ..web.urls import absolute_url
from . import openapi
from .auth import can_manage
from .errors import ApiError, field_errors
from .schemas import Body
from .submit import JSON_MEDIA, read_json_object

TEXT_LIMIT = 200
NOT_FOUND: openapi.Responses = {404: openapi.error("No bulk run with this id on this server.")}


class BulkFilter(Body):
    """Which jobs: every condition given must hold; none given means every job."""

    model_config = ConfigDict(extra="forbid", alias_generator=None)

    state: list[JobState] = Field(default_factory=list, max_length=len(JobState))
    name: str | None = Field(None, min_length=1, max_length=TEXT_LIMIT)
    queue: str | None = Field(None, min_length=1, max_length=TEXT_LIMIT)
    search: str | None = Field(
        None,
        min_length=1,
        max_length=TEXT_LIMIT,
        description="Text in the job's id, arguments or error, as on the dashboard.",
    )

    def query(self) -> JobFilter:
        return JobFilter(
            states=tuple(self.state), name=self.name, queue=self.queue, search=self.search
        )


class BulkRequest(Body):
    """What `POST /api/bulk` takes."""

    model_config = ConfigDict(extra="forbid", alias_generator=None)

    action: Literal["retry", "cancel", "delete"]
    filter: BulkFilter
    dry_run: bool = Field(False, description="Only count the matching jobs; change nothing.")


class BulkCount(Body):
    matched: int
    filter: str = Field(description="The filter in words.")


class BulkStatus(Body):
    """A bulk run: what it matched when it started and how far it has got."""

    id: str
    action: str
    filter: str = Field(description="The filter in words.")
    state: Literal["running", "finished", "stopped"]
    matched: int | None = Field(
        description="Jobs that matched when the run started; null while they are counted."
    )
    done: int = Field(description="Jobs changed so far.")
    skipped: int = Field(description="Jobs left as they were: in another state, or gone.")
    error: str | None = Field(None, description="Why a stopped run stopped.")
    started_at: datetime
    finished_at: datetime | None


def inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its `#/$defs/...` references replaced by what they name, since the
    request body is published inside the OpenAPI document, where such references dangle."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: inlined(value, defs) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [inlined(item, defs) for item in schema]
    return schema


REQUEST_SCHEMA = BulkRequest.model_json_schema()
REQUEST_SCHEMA = inlined(REQUEST_SCHEMA, REQUEST_SCHEMA.get("$defs", {}))


def status_of(run: BulkRun) -> BulkStatus:
    state: Literal["running", "finished", "stopped"] = (
        "running" if not run.finished else "stopped" if run.error else "finished"
    )
    return BulkStatus(
        id=run.id,
        action=run.action,
        filter=run.filter_text,
        state=state,
        matched=run.matched,
        done=run.tally.done,
        skipped=run.tally.skipped,
        error=run.error,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def who_asked(request: Request) -> str:
    """The caller as the log names it: a short hash of its token (never the token), its address."""
    authorization = request.headers.get("authorization", "")
    token = authorization.partition(" ")[2].strip()
    client = request.client.host if request.client else "unknown address"
    if not token:
        return f"a local client at {client}"
    return f"API token #{hashlib.sha256(token.encode()).hexdigest()[:8]} at {client}"


async def read_request(request: Request) -> BulkRequest:
    """The body, which must say it is JSON (so that no cross-site form can send it)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise ApiError(403, "CrossSiteRequest", "bulk actions are refused from other sites")
    if not JSON_MEDIA.match(request.headers.get("content-type", "")):
        raise ApiError(415, "UnsupportedMediaType", "send the request as application/json")
    try:
        data = await read_json_object(request, "a bulk action")
        # JSON mode, so that strict validation takes a state's name for the enum.
        return BulkRequest.model_validate_json(json.dumps(data), strict=True)
    except pydantic.ValidationError as exc:
        details = field_errors(exc.errors(include_url=False))
        raise ApiError(422, "InvalidRequest", "invalid bulk action", details=details) from None


router = APIRouter(prefix="/api/bulk", tags=["jobs"])


@router.post(
    "",
    operation_id="start_bulk_action",
    dependencies=[can_manage],
    status_code=202,
    response_model=BulkStatus,
    responses=openapi.responses(
        {
            200: {"model": BulkCount, "description": "A dry run: the count of matching jobs."},
            400: openapi.error("The body is not valid JSON."),
            403: openapi.error("Sent from another site."),
            415: openapi.error("The body is not JSON."),
        }
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": REQUEST_SCHEMA}},
        }
    },
    summary="Retry, cancel or delete every job a filter matches, in the background",
)
async def start(request: Request) -> JSONResponse:
    asked = await read_request(request)
    app: App = request.app.state.underway
    query = asked.filter.query()
    if asked.dry_run:
        matched = await count_matching(app, query)
        return JSONResponse(BulkCount(matched=matched, filter=describe(query)).wire())
    run = runs_of(request.app.state).start(app, asked.action, query, who_asked(request))
    location = absolute_url(request, f"/api/bulk/{run.id}")
    return JSONResponse(status_of(run).wire(), status_code=202, headers={"Location": location})


@router.get(
    "/{run_id}",
    operation_id="get_bulk_action",
    dependencies=[can_manage],
    response_model=BulkStatus,
    responses=openapi.responses(NOT_FOUND),
    summary="How far a bulk run has got",
)
async def progress(request: Request, run_id: str) -> JSONResponse:
    run = runs_of(request.app.state).get(run_id)
    if run is None:
        raise ApiError(404, "UnknownBulkRun", f"no bulk run {run_id!r} on this server")
    return JSONResponse(status_of(run).wire())
