"""What the routes document (answers, headers, links, request bodies), and /openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..app import App
from ..app.workflow_json import BatchDocument, WorkflowDocument
from ..web.openapi import REF, document_for, install_document
from .auth import can_view
from .schemas import ErrorResponse

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
    "GetJobBlocker": _link("get_job_blocker", "What holds the job, if it waits."),
    "CancelJob": _link("cancel_job", "Cancel the job."),
    "DeleteJob": _link("delete_job", "Remove the job."),
}


def _workflow_link(operation: str, description: str) -> dict[str, Any]:
    parameters = {"workflow_id": "$response.body#/id"}
    return {"operationId": operation, "parameters": parameters, "description": description}


#: Where a client goes from an answer that carries a workflow.
WORKFLOW_LINKS = {
    "GetWorkflow": _workflow_link("get_workflow", "The workflow monitor."),
    "ListWorkflowJobs": _workflow_link("list_workflow_jobs", "Its members."),
    "CancelWorkflow": _workflow_link("cancel_workflow", "Cancel the workflow."),
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
    """Build the document with the job argument schemas and serve it at /openapi.json to
    viewers only: it names every job and its arguments."""
    install_document(api, app)
    _add_document_schemas(api, app)
    api.add_api_route(
        "/openapi.json", openapi_document, include_in_schema=False, dependencies=[can_view]
    )


async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(document_for(request))


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


def _add_document_schemas(api: FastAPI, app: App) -> None:
    """Publish the workflow and batch documents' shapes as the components their routes refer
    to, a step's `job` naming the registered jobs."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            components = build().setdefault("components", {}).setdefault("schemas", {})
            components.update(document_schemas(app))
        return api.openapi_schema or build()

    api.openapi = openapi  # type: ignore[method-assign]


def document_schemas(app: App) -> dict[str, Any]:
    """The JSON Schemas of workflow and batch documents, by name, naming the app's jobs and
    queues; references between them point into the document's components."""
    models = [(WorkflowDocument, "validation"), (BatchDocument, "validation")]
    _, top = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    step = schemas["StepDocument"]["properties"]
    step["queue"]["anyOf"][0]["enum"] = list(app.queues())
    if app.registry:
        step["job"]["enum"] = sorted(app.registry)
    return schemas
