"""The API's side of the tokens: the bearer dependency that answers 401/403, and LocalOnly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..web.tokens import MANAGE, VIEW, Guard, is_local
from .errors import ApiError, error_response

bearer = HTTPBearer(auto_error=False, description="A token with scope jobs:view or jobs:manage.")


def check_token(guard: Guard, token: str | None, scope: str) -> None:
    """Admit a request whose token grants `scope`; else raise the 401 or 403 that says why."""
    if not guard.enabled:
        return  # LocalOnly has refused remote clients already (or `insecure` allows them).
    if token is None:
        raise ApiError(
            401,
            "Unauthenticated",
            "send an API token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="underway"'},
        )
    scopes = guard.scopes_of(token)
    if not scopes:
        raise ApiError(
            401,
            "InvalidToken",
            "the API token is not valid",
            headers={"WWW-Authenticate": 'Bearer realm="underway", error="invalid_token"'},
        )
    if scope not in scopes:
        raise ApiError(
            403,
            "InsufficientScope",
            f"this needs a token with scope {scope}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )


class LocalOnly:
    """ASGI middleware for an API without tokens: every path refuses non-loopback clients."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_local(Request(scope)):
            message = "no API tokens are configured, so only local clients may connect"
            response = error_response(ApiError(403, "RemoteAccessDenied", message))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def requires(scope: str) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that admits requests whose token grants `scope`."""

    async def check_scope(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> None:
        guard: Guard = request.app.state.guard
        check_token(guard, None if credentials is None else credentials.credentials, scope)

    return check_scope


can_view = Depends(requires(VIEW))
can_manage = Depends(requires(MANAGE))
