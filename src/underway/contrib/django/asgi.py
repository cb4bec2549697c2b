"""The API and dashboard in the project's ASGI app, under a prefix, behind Django's sign-in.

    application = mount(get_asgi_application(), prefix="/jobs")

Requests under the prefix go to underway's API and dashboard (`create_api`), the rest to
Django. With `staff_only` (the default) only signed-in staff get through: anonymous visitors
of a page are sent to `LOGIN_URL`, API calls without a session get 401, other users 403;
underway's own tokens are then not used. With `staff_only=False` the API's tokens guard it
as under `underway serve`. Needs the `server` extra too (`underway[django,server]`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured

try:
    from starlette.responses import RedirectResponse
    from starlette.types import ASGIApp, Receive, Scope, Send

    from ...api import create_api
    from ...api.errors import ApiError, error_response
    from ...api.mount import mount_path
    from ...web.urls import route_path
except ModuleNotFoundError as missing:  # pragma: no cover - depends on what is installed
    raise ImproperlyConfigured(
        f"the underway dashboard needs the server extra ({missing.name} is missing): "
        'pip install "underway[django,server]"'
    ) from None

from ...app import App
from .project_app import app as project_app
from .signed_in import check_sign_in_available, is_staff, user_of

__all__ = ["UnderwayMount", "mount"]


class UnderwayMount:
    """An ASGI app: paths under `prefix` to underway's API, everything else to Django."""

    def __init__(self, django: ASGIApp, api: ASGIApp, prefix: str, *, staff_only: bool) -> None:
        self.django = django
        self.api = api
        self.prefix = prefix
        self.staff_only = staff_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # Django's handler serves HTTP and nothing else
            await self.api(scope, receive, send)
        elif scope["type"] == "http" and self._is_ours(route_path(scope)):
            if self.staff_only and not await self._admitted(scope, receive, send):
                return
            root = scope.get("root_path", "").rstrip("/")
            await self.api({**scope, "root_path": root + self.prefix}, receive, send)
        else:
            await self.django(scope, receive, send)

    def _is_ours(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Whether a signed-in staff member asks; else answers the refusal and says no."""
        user = await user_of(dict(scope))
        if is_staff(user):
            return True
        if not user.is_authenticated and _wants_a_page(scope):
            target = scope["path"] + (
                f"?{scope['query_string'].decode()}" if scope.get("query_string") else ""
            )
            location = redirect_to_login(target)["Location"]
            await RedirectResponse(location, status_code=302)(scope, receive, send)
        elif not user.is_authenticated:
            message = "sign in to the site as a staff member"
            await error_response(ApiError(401, "Unauthenticated", message))(scope, receive, send)
        else:
            message = "only staff members of the site may use underway"
            await error_response(ApiError(403, "Forbidden", message))(scope, receive, send)
        return False


def _wants_a_page(scope: Scope) -> bool:
    """A browser's GET of a page (not a call of the API)."""
    headers = dict(scope.get("headers") or [])
    return scope["method"] in ("GET", "HEAD") and b"text/html" in headers.get(b"accept", b"")


def mount(
    django: ASGIApp,
    *,
    prefix: str = "/underway",
    staff_only: bool = True,
    app: App | None = None,
    allowed_hosts: Iterable[str] | None = None,
    **api_options: Any,
) -> UnderwayMount:
    """`django` (from `get_asgi_application()`) with underway's API and dashboard under
    `prefix`, for the project's app unless `app` is given. Hosts allowed: Django's
    ALLOWED_HOSTS unless given. Further options go to `create_api` (`tokens=`, ...)."""
    path = mount_path(prefix)
    if not path:
        raise ImproperlyConfigured(
            f"mount(prefix={prefix!r}) would hide the whole Django site: give a path like '/jobs'"
        )
    hosts = list(allowed_hosts) if allowed_hosts is not None else django_hosts()
    if staff_only:
        check_sign_in_available()
        if "tokens" in api_options:
            raise ImproperlyConfigured(
                "mount(tokens=...) is for staff_only=False: with staff_only, Django's "
                "sign-in guards the API and dashboard"
            )
        api_options["insecure"] = True  # every request that reaches the API is staff's
    api = create_api(app or project_app, allowed_hosts=hosts or None, **api_options)
    return UnderwayMount(django, api, path, staff_only=staff_only)


def django_hosts() -> list[str]:
    """ALLOWED_HOSTS as underway writes host names (`.example.com`: it and its subdomains)."""
    hosts: list[str] = []
    for entry in settings.ALLOWED_HOSTS:
        if entry.startswith("."):
            hosts += [entry[1:], f"*{entry}"]
        else:
            hosts.append(entry)
    return hosts
