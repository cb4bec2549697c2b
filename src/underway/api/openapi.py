"""The OpenAPI document: documented answers of every route and each job's argument schema."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..app import App
from .auth import can_view
from .schemas import ErrorResponse

REF = "#/components/schemas/{model}"
Responses = dict[int | str, dict[str, Any]]


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


LOCATION = _header("Absolute URL of the job monitor.")
OPERATION_LOCATION = _header("Absolute URL of the LRO status view.")
RETRY_AFTER = {"description": "Seconds to wait before polling.", "schema": {"type": "integer"}}
ALLOW = _header("Every method the path accepts.")


def _link(operation: str, description: str) -> dict[str, Any]:
    parameters = {"job_id": "$response.body#/id"}
    return {"operationId": operation, "parameters": parameters, "description": description}


#: Where a client goes from an answer that carries a job (OpenAPI links; also for stateful tests).
JOB_LINKS = {
    "GetJob": _link("get_job", "The job monitor."),
    "GetJobStatus": _link("get_job_status", "The LRO status view."),
    "GetJobOutput": _link("get_job_output", "The result, once completed."),
    "GetJobLogs": _link("get_job_logs", "The job's log lines."),
    "CancelJob": _link("cancel_job", "Cancel the job."),
    "DeleteJob": _link("delete_job", "Remove the job."),
}


def error(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {"model": ErrorResponse, "description": description}
    if headers:
        answer["headers"] = headers
    return answer


#: Answers any route may give: auth failures, bad parameters and an unavailable database.
COMMON: Responses = {
    401: error("No or an invalid bearer token."),
    403: error("The token lacks the needed scope, or a remote client without tokens."),
    422: error("Invalid query parameters or headers, with field errors."),
    503: error("The job database is unavailable; retry later.", **{"Retry-After": RETRY_AFTER}),
}
NOT_FOUND: Responses = {404: error("No job with this id (never existed, deleted or pruned).")}


def responses(*groups: Responses) -> Responses:
    merged: Responses = {}
    for group in (COMMON, *groups):
        merged.update(group)
    return merged


def argument_schema_name(job_name: str) -> str:
    return f"{job_name}_arguments"


def install_openapi(api: FastAPI, app: App) -> None:
    """Publish the job argument models as components the submit routes refer to, and serve
    the document at /openapi.json to viewers only: it names every job and its arguments."""

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = get_openapi(
                title=api.title,
                version=api.version,
                description=api.description,
                routes=api.routes,
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components.update(_argument_schemas(app))
            _name_recurring_jobs(document, app)
            api.openapi_schema = document
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    api.add_api_route(
        "/openapi.json", openapi_document, include_in_schema=False, dependencies=[can_view]
    )


async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(document_for(request))


def document_for(request: Request) -> dict[str, Any]:
    """The app's OpenAPI document; mounted under a prefix, that prefix is its server URL."""
    api: FastAPI = request.app
    document = api.openapi()
    root = request.scope.get("root_path", "").rstrip("/")
    if root and api.root_path_in_servers:
        document = {**document, "servers": [{"url": root}, *document.get("servers", [])]}
    return document


def _name_recurring_jobs(document: dict[str, Any], app: App) -> None:
    """`POST /api/recurring` takes a registered job's name: say which, so that a body valid
    against the schema is one the API accepts."""
    operation = document.get("paths", {}).get("/api/recurring", {}).get("post")
    if operation is None or not app.registry:
        return
    body = copy.deepcopy(operation["requestBody"])  # the route's schema is shared by every app
    job = body["content"]["application/json"]["schema"]["properties"]["job"]
    job["enum"] = sorted(app.registry)
    operation["requestBody"] = body


def _argument_schemas(app: App) -> dict[str, Any]:
    models = [(d.args_model, "validation") for d in app.registry.values()]
    if not models:
        return {}
    _, top = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
    return dict(top.get("$defs", {}))


def request_body(app: App, job_name: str) -> dict[str, Any]:
    """The submit route's requestBody: the job's arguments as one JSON object."""
    model = app.registry[job_name].args_model
    required = any(field.is_required() for field in model.model_fields.values())
    schema = {"$ref": REF.format(model=argument_schema_name(job_name))}
    return {
        "requestBody": {
            "required": required,
            "description": "The job's arguments as a JSON object.",
            "content": {"application/json": {"schema": schema}},
        }
    }
