"""Who may see and do what on the dashboard: the API's tokens and scopes, plus CSRF checks."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.requests import Request

from ..web.hosts import AllowedHosts
from ..web.tokens import GRANTS, MANAGE, VIEW, Guard, is_local
from ..web.urls import root_path
from .sessions import Session, session_of

CSRF_FIELD = "csrf"


class Denied(Exception):
    """The request may not go on; the dashboard answers with `status` and a page saying why."""

    def __init__(self, status: int, message: str, *, login: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.login = login


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person looking at a page: their session and what they may do."""

    session: Session
    scopes: frozenset[str]
    open_mode: bool

    @property
    def can_manage(self) -> bool:
        return MANAGE in self.scopes

    @property
    def signed_in(self) -> bool:
        return not self.open_mode and bool(self.scopes)


def guard_of(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


def viewer_of(request: Request) -> Viewer:
    """The viewer; with no tokens configured, local (or `insecure`) clients may do everything."""
    guard, session = guard_of(request), session_of(request)
    if guard.enabled:
        return Viewer(session, session.scopes, open_mode=False)
    if not guard.insecure and not is_local(request):
        raise Denied(403, "No API tokens are configured, so only local clients may connect.")
    return Viewer(session, GRANTS[MANAGE], open_mode=True)


def require_view(request: Request) -> Viewer:
    viewer = viewer_of(request)
    if VIEW not in viewer.scopes:
        raise Denied(401, "Sign in with an API token to see the dashboard.", login=True)
    return viewer


async def check_form(request: Request, viewer: Viewer, csrf: str | None) -> None:
    """A form POST must come from our own pages: same origin and the session's CSRF token."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Denied(403, "Cross-site form posts are refused.")
    origin = request.headers.get("origin")
    if origin is not None and not await _is_own_origin(request, origin):
        raise Denied(403, "The form was posted from another site and is refused.")
    if not viewer.session.csrf_matches(csrf):
        raise Denied(403, "The form's security token is missing or stale; reload the page.")


async def require_manage(request: Request, csrf: str | None) -> Viewer:
    """A viewer allowed to change jobs, posting a genuine dashboard form."""
    viewer = require_view(request)
    await check_form(request, viewer, csrf)
    if not viewer.can_manage:
        raise Denied(403, f"This needs a token with scope {MANAGE}; yours may only view.")
    return viewer


async def _is_own_origin(request: Request, origin: str) -> bool:
    """The Origin names one of the allowed hosts (behind a proxy the Host header may be the
    proxy's own); when any host is allowed, it must be the request's Host. An opaque origin
    ("null") is nobody's."""
    hosts: AllowedHosts = request.app.state.hosts
    netloc = urlsplit(origin).netloc
    if hosts.any:
        return netloc == request.headers.get("host", request.url.netloc)
    return bool(netloc) and await hosts.allows(netloc)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{root_path(request.scope)}/dashboard/login?next={quote(target, safe='')}"


def safe_next(target: str | None, root: str = "", default: str = "/dashboard") -> str:
    """Only our own dashboard paths, under `root` (the prefix the app is served at), are valid
    places to return to (no open redirect); else `default` under `root`."""
    if not target or not target.startswith(f"{root}/dashboard") or "\\" in target:
        return root + default
    if urlsplit(target).netloc or target.startswith("//"):
        return root + default
    return target
