"""The OpenAPI document: FastAPI's, plus each job's argument schema, built once per app.

The API serves it at /openapi.json and the dashboard's API docs page beside Swagger UI.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.requests import Request

from ..app import App

REF = "#/components/schemas/{model}"


def install_document(api: FastAPI, app: App) -> None:
    """Make `api.openapi()` publish the job argument models as components the submit routes
    refer to."""

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
