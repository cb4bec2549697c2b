"""Routes of workflows and batches: start one from JSON, list them, read one and its members,
cancel and retry it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..app import App, workflow_json
from ..app.workflow_json import Plan, WorkflowDocumentError
from ..models import JobState
from ..web.openapi import REF
from ..web.urls import absolute_url
from ..workflow_models import Workflow, WorkflowKind, WorkflowState
from . import bodies, openapi
from .auth import can_manage, can_view
from .errors import ApiError
from .schemas import Body, FieldError, JobList
from .submit import read_json_object

MAX_PAGE = 100_000
MAX_PER_PAGE = 200
#: Seconds a poller of an active workflow should wait.
POLL_S = 1


class WorkflowLinks(Body):
    """Absolute URLs of the workflow's resources."""

    self_: str = Field(alias="self")
    jobs: str
    cancel: str
    retry: str


class WorkflowStatus(Body):
    """A workflow or batch: its members counted per state, and how far it got."""

    id: str
    kind: WorkflowKind
    name: str | None
    state: WorkflowState = Field(
        description="active while a member may still run; then failed if one failed, "
        "cancelled if one was cancelled, else completed."
    )
    progress: float = Field(description="Percent of the members that ended, 0 to 100.")
    counts: dict[str, int] = Field(description="Members per state, every state listed.")
    total: int = Field(description="Members, callbacks included.")
    ended: int = Field(description="Members that ended (completed, failed, cancelled, skipped).")
    created_at: datetime
    links: WorkflowLinks


class WorkflowList(Body):
    """One page of workflows and batches, newest first, with the total number."""

    items: list[WorkflowStatus]
    total: int
    page: int
    per_page: int
    next_link: str | None = None


NOT_FOUND: openapi.Responses = {404: openapi.error("No workflow or batch with this id.")}
STARTED: openapi.Responses = {
    202: {
        "model": WorkflowStatus,
        "description": "Stored and started; poll `Location`, the workflow's monitor.",
        "headers": {"Location": openapi.LOCATION, "Retry-After": openapi.RETRY_AFTER},
        "links": openapi.WORKFLOW_LINKS,
    },
    400: openapi.error("Malformed JSON."),
    413: openapi.error("The body is over the size limit."),
    415: openapi.error("The body is not JSON."),
    422: openapi.error(
        "The document does not describe a workflow of registered jobs: field errors name "
        "where (`target`: `flow.chain[1].group[0].args.tenant`); nothing was stored."
    ),
}


router = APIRouter(tags=["workflows"])


def _app(request: Request) -> App:
    app: App = request.app.state.underway
    return app


def workflow_url(request: Request, workflow_id: str, suffix: str = "") -> str:
    return absolute_url(request, f"/api/workflows/{quote(workflow_id, safe='')}{suffix}")


def workflow_status(request: Request, workflow: Workflow) -> WorkflowStatus:
    return WorkflowStatus(
        id=workflow.id,
        kind=workflow.kind,
        name=workflow.name,
        state=workflow.state,
        progress=round(workflow.progress, 2),
        counts={state.value: workflow.counts.get(state.value, 0) for state in JobState},
        total=workflow.total,
        ended=workflow.ended,
        created_at=workflow.created_at,
        links=WorkflowLinks(
            self=workflow_url(request, workflow.id),
            jobs=workflow_url(request, workflow.id, "/jobs"),
            cancel=workflow_url(request, workflow.id, "/cancel"),
            retry=workflow_url(request, workflow.id, "/retry"),
        ),
    )


def _monitored(request: Request, workflow: Workflow, status_code: int = 200) -> JSONResponse:
    """The workflow's status; where it is new or active again, where and when to poll."""
    headers = {"Retry-After": str(POLL_S)} if workflow.state == "active" else {}
    if status_code == 202:
        headers["Location"] = workflow_url(request, workflow.id)
    body = workflow_status(request, workflow).wire()
    return JSONResponse(body, status_code=status_code, headers=headers)


Reader = Callable[..., Plan]


async def _start(request: Request, what: str, read: Reader) -> JSONResponse:
    """Read a document, then store and start it: 202, or 422 naming where each error is."""
    app = _app(request)
    data = await read_json_object(request, f"a {what} document")
    try:
        plan = read(app, data, queues=app.queues())
    except WorkflowDocumentError as exc:
        details = [_field_error(error) for error in exc.errors]
        raise ApiError(422, f"Invalid{what.title()}", str(exc), details=details) from None
    handle = await workflow_json.start_async(app, plan)
    return _monitored(request, await handle.status_async(), status_code=202)


def _field_error(error: dict[str, Any]) -> FieldError:
    loc = list(error["loc"])
    return FieldError(
        code=str(error["type"]),
        message=str(error["msg"]),
        target=workflow_json.location(tuple(loc)),
        loc=loc,
    )


def _document_body(model: str) -> dict[str, Any]:
    schema = {"$ref": REF.format(model=model)}
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


@router.post(
    "/api/workflows",
    operation_id="create_workflow",
    dependencies=[can_manage],
    status_code=202,
    response_model=None,
    responses=openapi.responses(STARTED),
    openapi_extra=_document_body("WorkflowDocument"),
    summary="Start a workflow: steps of registered jobs in chains and groups",
)
async def create_workflow(request: Request) -> JSONResponse:
    return await _start(request, "workflow", workflow_json.read_workflow)


@router.post(
    "/api/batches",
    operation_id="create_batch",
    dependencies=[can_manage],
    status_code=202,
    response_model=None,
    responses=openapi.responses(STARTED),
    openapi_extra=_document_body("BatchDocument"),
    summary="Start a batch: jobs side by side, callbacks once the last has ended",
)
async def create_batch(request: Request) -> JSONResponse:
    return await _start(request, "batch", workflow_json.read_batch)


@router.get(
    "/api/workflows",
    operation_id="list_workflows",
    dependencies=[can_view],
    response_model=WorkflowList,
    responses=openapi.responses(),
    summary="List workflows and batches, newest first",
)
async def list_workflows(
    request: Request,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
) -> JSONResponse:
    offset = (page - 1) * per_page
    found = await _app(request).workflows_async(per_page, offset)
    more = offset + len(found.workflows) < found.total
    body = WorkflowList(
        items=[workflow_status(request, workflow) for workflow in found.workflows],
        total=found.total,
        page=page,
        per_page=per_page,
        next_link=str(request.url.include_query_params(page=page + 1)) if more else None,
    )
    return JSONResponse(body.wire())


@router.get(
    "/api/workflows/{workflow_id}",
    operation_id="get_workflow",
    dependencies=[can_view],
    response_model=None,
    responses=openapi.responses(
        NOT_FOUND,
        {
            200: {
                "model": WorkflowStatus,
                "description": "The workflow's status; `Retry-After` while it is active.",
                "headers": {"Retry-After": openapi.RETRY_AFTER},
            }
        },
    ),
    summary="The workflow monitor",
)
async def get_workflow(request: Request, workflow_id: str) -> JSONResponse:
    return _monitored(request, await _app(request).workflow_status_async(workflow_id))


@router.get(
    "/api/workflows/{workflow_id}/jobs",
    operation_id="list_workflow_jobs",
    dependencies=[can_view],
    response_model=JobList,
    responses=openapi.responses(NOT_FOUND),
    summary="The workflow's members, in the order they were stored",
)
async def list_workflow_jobs(
    request: Request,
    workflow_id: str,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
) -> JSONResponse:
    members = await _app(request).workflow_jobs_async(workflow_id)
    offset = (page - 1) * per_page
    shown = members[offset : offset + per_page]
    more = offset + len(shown) < len(members)
    body = JobList(
        items=[bodies.job_status(request, job) for job in shown],
        total=len(members),
        page=page,
        per_page=per_page,
        next_link=str(request.url.include_query_params(page=page + 1)) if more else None,
    )
    return JSONResponse(body.wire())


@router.post(
    "/api/workflows/{workflow_id}/cancel",
    operation_id="cancel_workflow",
    dependencies=[can_manage],
    response_model=WorkflowStatus,
    responses=openapi.responses(NOT_FOUND),
    summary="Cancel members that have not started, ask running ones to stop",
)
async def cancel_workflow(request: Request, workflow_id: str) -> JSONResponse:
    handle = await _app(request).workflow_async(workflow_id)
    return _monitored(request, await handle.cancel_async())


@router.post(
    "/api/workflows/{workflow_id}/retry",
    operation_id="retry_workflow",
    dependencies=[can_manage],
    status_code=202,
    response_model=None,
    responses=openapi.responses(
        NOT_FOUND,
        {
            202: {
                "model": WorkflowStatus,
                "description": "What failed or was cancelled runs again; poll `Location`.",
                "headers": {"Location": openapi.LOCATION, "Retry-After": openapi.RETRY_AFTER},
            }
        },
    ),
    summary="Run again what failed or was cancelled, and what waits on it",
)
async def retry_workflow(request: Request, workflow_id: str) -> JSONResponse:
    handle = await _app(request).workflow_async(workflow_id)
    return _monitored(request, await handle.retry_async(), status_code=202)
