"""Turns refusals and missing things into dashboard pages instead of the API's JSON errors."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import (
    InvalidStateError,
    JobNotFound,
    QueueNotFound,
    RecurringNotFound,
    WorkflowNotFound,
)
from ..web.urls import route_path
from .access import Denied, login_url
from .rendering import render, with_security_headers

P = ParamSpec("P")
TITLES = {
    401: "Sign in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible",
}


def guarded(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Answer `Denied` with a sign-in redirect or an error page, unknown ids with a 404 page."""

    @functools.wraps(handler)
    async def run(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs["request"]
        assert isinstance(request, Request)
        try:
            return await handler(*args, **kwargs)
        except Denied as denied:
            if denied.login and request.method == "GET" and not _is_background(request):
                return with_security_headers(RedirectResponse(login_url(request), 303))
            return error_page(request, denied.status, denied.message)
        except (JobNotFound, RecurringNotFound, QueueNotFound, WorkflowNotFound) as missing:
            return error_page(request, 404, str(missing))
        except InvalidStateError as conflict:
            return error_page(request, 409, str(conflict))

    return run


def _is_background(request: Request) -> bool:
    """Streams, live fragments and the API docs' document answer 401 rather than a redirect
    to the sign-in page."""
    path = route_path(request.scope)
    return path.startswith("/dashboard/live/") or path.endswith(("/events", "/openapi.json"))


def error_page(request: Request, status: int, message: str) -> Response:
    title = TITLES.get(status, "Error")
    return render(request, None, "error.html", status, title=title, message=message)
