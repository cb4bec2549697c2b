"""HostCheck: a request under a host name the server does not answer to gets 400 and why."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..web.hosts import AllowedHosts
from .errors import ApiError, error_response


class HostCheck:
    """ASGI middleware: a request under a name that is not allowed gets 400 and why."""

    def __init__(self, app: ASGIApp, hosts: AllowedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host")
            if not await self.hosts.allows(host):
                await error_response(refusal(self.hosts))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def refusal(hosts: AllowedHosts) -> ApiError:
    names = ", ".join(hosts.patterns)
    return ApiError(
        400,
        "HostNotAllowed",
        f"this server answers only to the host names {names}: a request under another name "
        "is what a DNS rebinding attack sends. To serve it under that name, add it with "
        "`underway serve --allowed-host NAME` (allowed_hosts= in create_api or serve).",
    )
