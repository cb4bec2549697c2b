"""Dashboard sessions: a random id in an HttpOnly cookie, the scopes and CSRF token server-side."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from ..web.urls import root_path

COOKIE = "underway_session"
#: Below the prefix the app is served at, which `cookie_path` adds.
COOKIE_PATH = "/dashboard"
#: Sessions end after this long without a request.
IDLE_TIMEOUT_S = 8 * 3600.0
#: The oldest sessions are forgotten beyond this many, so cookie-less clients cannot fill memory.
MAX_SESSIONS = 10_000


@dataclass(slots=True)
class Session:
    """One browser's session: what its token granted and the token its forms must echo."""

    id: str
    csrf: str
    scopes: frozenset[str] = frozenset()
    flash: str | None = None
    seen_at: float = field(default_factory=time.monotonic)
    is_new: bool = False

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode("utf-8", "surrogatepass"), self.csrf.encode()
        )

    def pop_flash(self) -> str | None:
        message, self.flash = self.flash, None
        return message


class SessionStore:
    """Sessions in memory, least recently used first; a server restart signs everyone out.

    Sessions without scopes (before sign-in, or in open mode) are kept apart and are the only
    ones dropped when there are too many, so a flood of cookie-less requests cannot push
    signed-in people out.
    """

    def __init__(self, idle_timeout_s: float = IDLE_TIMEOUT_S, limit: int = MAX_SESSIONS) -> None:
        self._anonymous: OrderedDict[str, Session] = OrderedDict()
        self._signed_in: OrderedDict[str, Session] = OrderedDict()
        self.idle_timeout_s = idle_timeout_s
        self.limit = limit

    def get(self, session_id: str | None) -> Session | None:
        key = session_id or ""
        found = self._signed_in if key in self._signed_in else self._anonymous
        session = found.get(key)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.seen_at > self.idle_timeout_s:
            del found[key]
            return None
        session.seen_at = now
        found.move_to_end(key)
        return session

    def create(self, scopes: frozenset[str] = frozenset()) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), scopes, is_new=True)
        sessions = self._signed_in if scopes else self._anonymous
        sessions[session.id] = session
        while len(sessions) > self.limit:
            sessions.popitem(last=False)
        return session

    def rotate(self, old: Session, scopes: frozenset[str]) -> Session:
        """A fresh id and CSRF token on sign-in, so a planted session id is worth nothing."""
        self.discard(old)
        return self.create(scopes)

    def discard(self, session: Session) -> None:
        self._anonymous.pop(session.id, None)
        self._signed_in.pop(session.id, None)


def store_of(request: Request) -> SessionStore:
    """The app's session store, created on first use."""
    state = request.app.state
    store: SessionStore | None = getattr(state, "dashboard_sessions", None)
    if store is None:
        store = state.dashboard_sessions = SessionStore()
    return store


def session_of(request: Request) -> Session:
    """The request's session, or a new anonymous one (its cookie is set by `remember`)."""
    cached: Session | None = request.scope.get("underway.session")
    if cached is not None:
        return cached
    store = store_of(request)
    session = store.get(request.cookies.get(COOKIE)) or store.create()
    request.scope["underway.session"] = session
    return session


def remember(request: Request, response: Response, session: Session) -> None:
    """Set the session cookie on `response` when the session is new."""
    if not session.is_new:
        return
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=int(IDLE_TIMEOUT_S),
        path=cookie_path(request),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    session.is_new = False


def forget(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path=cookie_path(request), httponly=True, samesite="strict")


def cookie_path(request: Request) -> str:
    """The dashboard's path under the prefix the app is served at: the cookie goes nowhere
    else on the host."""
    return root_path(request.scope) + COOKIE_PATH
