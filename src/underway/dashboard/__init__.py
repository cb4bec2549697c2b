"""The live web dashboard: server-rendered pages on the API's FastAPI app, at /dashboard."""

from fastapi import APIRouter

from . import actions, assets, pages, streams

router = APIRouter(include_in_schema=False)
for part in (pages.router, actions.router, streams.router, assets.router, actions.post_only):
    router.include_router(part)

__all__ = ["router"]
