"""URLs under the prefix the app is served at: the ASGI root_path, which a Mount extends.

Mounted at `/jobs` in a host app, a request for `/jobs/api/jobs/ID` has the root path `/jobs`
and the route path `/api/jobs/ID`. Every URL the API and the dashboard hand out is the root
path plus a route path. Not `request.base_url` (the host app's root, without the mount) nor
`url_for` (route names from the host's routing, where a host route may have the same name).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Scope


def root_path(scope: Scope) -> str:
    """The prefix the app is served at, without a trailing slash; "" at the top."""
    root: str = scope.get("root_path", "")
    return root.rstrip("/")


def route_path(scope: Scope) -> str:
    """The request path below the root path."""
    path: str = scope["path"]
    root = root_path(scope)
    return path.removeprefix(root) if root and path.startswith(root) else path


def absolute_url(request: Request, path: str) -> str:
    """An absolute URL for a route path, with the request's scheme and Host (a trusted
    proxy's, once the server believes its forwarded headers)."""
    return str(request.url.replace(path=root_path(request.scope) + path, query=""))
