"""The interactive API docs: Swagger UI from the package, for people who may view the dashboard.

The OpenAPI document names every job and its arguments, so the page and its copy of the
document ask for what the dashboard asks for (a session with jobs:view, or local open mode).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..web.openapi import document_for
from ..web.urls import root_path
from .access import require_view
from .error_pages import guarded
from .rendering import CSP, SECURITY_HEADERS, render

#: Swagger UI's stylesheet draws its icons from data: URLs; nothing else is loosened.
DOCS_CSP = CSP.replace("img-src 'self'", "img-src 'self' data:")

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs(request: Request) -> Response:
    return RedirectResponse(f"{root_path(request.scope)}/dashboard/api-docs", status_code=307)


@router.get("/dashboard/api-docs")
@guarded
async def api_docs(request: Request) -> Response:
    viewer = require_view(request)
    response = render(request, viewer, "api_docs.html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@router.get("/dashboard/api-docs/openapi.json")
@guarded
async def api_docs_document(request: Request) -> Response:
    require_view(request)
    return JSONResponse(document_for(request), headers=SECURITY_HEADERS)
