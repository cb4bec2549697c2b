"""The live web dashboard: server-rendered pages on the API's FastAPI app, at /dashboard."""

from fastapi import APIRouter

from . import (
    actions,
    api_docs,
    assets,
    bulk_pages,
    history_pages,
    job_list,
    pages,
    queue_page,
    streams,
    workers_page,
    workflow_pages,
)

PARTS = (
    pages.router,
    job_list.router,
    bulk_pages.router,
    queue_page.router,
    history_pages.router,
    workers_page.router,
    workflow_pages.router,
    actions.router,
    streams.router,
    assets.router,
    api_docs.router,
)

router = APIRouter(include_in_schema=False)
for part in (*PARTS, actions.post_only):
    router.include_router(part)

__all__ = ["router"]
