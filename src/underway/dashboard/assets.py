"""The dashboard's CSS and JavaScript, shipped in the package (no CDN, no build step)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.responses import Response

from .rendering import SECURITY_HEADERS

TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSETS = (
    "dashboard.css",
    "dashboard.js",
    "job-pages.css",
    "job-pages.js",
    "favicon.svg",
    "history.css",
    "api-docs.js",
    "swagger-ui/swagger-ui-bundle.js",
    "swagger-ui/swagger-ui.css",
)

router = APIRouter(include_in_schema=False)


def _load(name: str) -> bytes:
    return (resources.files("underway.dashboard") / "static" / name).read_bytes()


@router.get("/dashboard/static/{name:path}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    suffix = name[name.rfind(".") :]
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"}
    return Response(_load(name), media_type=TYPES[suffix], headers=headers)
