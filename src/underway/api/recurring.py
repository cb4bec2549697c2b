"""Routes of recurring (cron) jobs: list, create, read, toggle, trigger, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pydantic
from fastapi import APIRouter
from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..app import App
from ..models import Recurring
from ..recurring import describe_cron
from ..web.urls import absolute_url
from . import bodies, openapi
from .auth import can_manage, can_view
from .errors import ApiError, field_errors
from .schemas import Body
from .submit import accepted, read_json_object

NOT_FOUND: openapi.Responses = {404: openapi.error("No recurring job with this id.")}
NAME = r"^[^\x00-\x1f\x7f]+$"


class NewRecurringBody(Body):
    """What `POST /api/recurring` takes."""

    model_config = ConfigDict(extra="forbid", alias_generator=None)

    name: str = Field(min_length=1, max_length=200, pattern=NAME)
    cron: str = Field(min_length=1, max_length=200, description="5-field cron or @alias.")
    job: str = Field(min_length=1, max_length=200, description="A registered job's name.")
    args: dict[str, Any] = Field(default_factory=dict, description="The job's arguments.")
    timezone: str = Field("UTC", min_length=1, max_length=100, description="IANA timezone.")
    enabled: bool = True
    overlap: Literal["skip", "queue", "allow"] = "skip"
    catch_up: Literal["one", "none"] = "one"


class RecurringBody(Body):
    id: str
    name: str
    job: str
    cron: str
    description: str = Field(description="The schedule in words.")
    timezone: str
    args: dict[str, Any]
    enabled: bool
    overlap: str
    catch_up: str
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: str | None
    last_job_state: str | None
    last_job: str | None = Field(description="Absolute URL of the last run's job monitor.")


class RecurringList(Body):
    items: list[RecurringBody]


router = APIRouter(prefix="/api/recurring", tags=["recurring"])


def _app(request: Request) -> App:
    app: App = request.app.state.underway
    return app


def _view(request: Request, r: Recurring) -> RecurringBody:
    return RecurringBody(
        id=r.id,
        name=r.name,
        job=r.job_name,
        cron=r.cron,
        description=describe_cron(r.cron, r.timezone),
        timezone=r.timezone,
        args=r.args,
        enabled=r.enabled,
        overlap=r.overlap,
        catch_up=r.catch_up,
        next_run_at=r.next_fire_at if r.enabled else None,
        last_run_at=r.last_fire_at,
        last_job_id=r.last_job_id,
        last_job_state=None if r.last_job_state is None else r.last_job_state.value,
        last_job=None if r.last_job_id is None else bodies.job_url(request, r.last_job_id),
    )


@router.get(
    "",
    operation_id="list_recurring",
    dependencies=[can_view],
    response_model=RecurringList,
    responses=openapi.responses(),
    summary="Every recurring job with its next and last run",
)
async def list_recurring(request: Request) -> JSONResponse:
    found = await _app(request).list_recurring_async()
    return JSONResponse(RecurringList(items=[_view(request, r) for r in found]).wire())


@router.post(
    "",
    operation_id="create_recurring",
    dependencies=[can_manage],
    status_code=201,
    response_model=RecurringBody,
    responses=openapi.responses(
        {
            400: openapi.error("The body is not valid JSON."),
            409: openapi.error("A recurring job with this name exists."),
            415: openapi.error("The body is not JSON."),
        }
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NewRecurringBody.model_json_schema()}},
        }
    },
    summary="Create a recurring job",
)
async def create_recurring(request: Request) -> JSONResponse:
    try:
        new = NewRecurringBody.model_validate(await read_json_object(request), strict=True)
    except pydantic.ValidationError as exc:
        details = field_errors(exc.errors(include_url=False))
        raise ApiError(422, "InvalidRequest", "invalid recurring job", details=details) from None
    app = _app(request)
    if new.job not in app.registry:
        raise ApiError(422, "UnknownJob", f"no job named {new.job!r} is registered")
    recurring_id = await app.add_recurring_async(
        new.name,
        new.cron,
        new.job,
        new.args,
        timezone=new.timezone,
        enabled=new.enabled,
        overlap=new.overlap,
        catch_up=new.catch_up,
    )
    body = _view(request, await app.get_recurring_async(recurring_id)).wire()
    location = absolute_url(request, f"/api/recurring/{recurring_id}")
    return JSONResponse(body, status_code=201, headers={"Location": location})


@router.get(
    "/{recurring_id}",
    operation_id="get_recurring",
    dependencies=[can_view],
    response_model=RecurringBody,
    responses=openapi.responses(NOT_FOUND),
    summary="One recurring job",
)
async def get_recurring(request: Request, recurring_id: str) -> JSONResponse:
    found = await _app(request).get_recurring_async(recurring_id)
    return JSONResponse(_view(request, found).wire())


@router.post(
    "/{recurring_id}/toggle",
    operation_id="toggle_recurring",
    dependencies=[can_manage],
    response_model=RecurringBody,
    responses=openapi.responses(NOT_FOUND),
    summary="Enable a disabled recurring job, or disable an enabled one",
)
async def toggle_recurring(request: Request, recurring_id: str) -> JSONResponse:
    toggled = await _app(request).toggle_recurring_async(recurring_id)
    return JSONResponse(_view(request, toggled).wire())


@router.post(
    "/{recurring_id}/trigger",
    operation_id="trigger_recurring",
    dependencies=[can_manage],
    status_code=202,
    response_model=None,
    responses=openapi.responses(
        NOT_FOUND,
        {
            202: {
                "description": "The run is queued; Location is its job monitor.",
                "headers": {"Location": openapi.LOCATION, "Retry-After": openapi.RETRY_AFTER},
            }
        },
    ),
    summary="Run a recurring job now, outside its schedule",
)
async def trigger_recurring(request: Request, recurring_id: str) -> Response:
    handle = await _app(request).trigger_recurring_async(recurring_id)
    return accepted(request, handle.job, joined=False, waited=None)


@router.delete(
    "/{recurring_id}",
    operation_id="delete_recurring",
    dependencies=[can_manage],
    status_code=204,
    response_class=Response,
    responses=openapi.responses(NOT_FOUND),
    summary="Delete a recurring job (the jobs it created stay)",
)
async def delete_recurring(request: Request, recurring_id: str) -> Response:
    await _app(request).remove_recurring_async(recurring_id)
    return Response(status_code=204)
