"""Jinja2 templates (always autoescaped), their filters, and the headers every page carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..models import JobState
from ..web.urls import root_path, route_path
from .access import CSRF_FIELD, Viewer
from .history_charts import seconds_in_words
from .sessions import remember
from .tracebacks import traceback_parts

#: No inline script or style anywhere: an injected tag can neither run nor restyle the page.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: States in the order of a job's life: waiting for other jobs comes before all the rest.
STATE_ORDER = [JobState.WAITING.value] + [s.value for s in JobState if s is not JobState.WAITING]


def when(moment: datetime | None, form: str = "full") -> Markup:
    """A <time> the browser rewrites into local time, in full with a relative hint or as a time."""
    if moment is None:
        return Markup('<span class="muted">—</span>')
    moment = moment.astimezone(UTC)
    text = moment.strftime("%H:%M:%S" if form == "time" else "%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}" data-form="{}">{}</time>').format(
        moment.isoformat(), form, text
    )


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return seconds_in_words(max(0.0, (end - start).total_seconds()))


def pretty(value: Any) -> str:
    """JSON as indented text; the template escapes it like any other string."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def compact(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _environment() -> Environment:
    folder = resources.files("underway.dashboard") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, pretty=pretty, compact=compact)
    env.globals.update(duration=duration, csrf_field=CSRF_FIELD, state_order=STATE_ORDER)
    env.globals.update(traceback_parts=traceback_parts)
    return env


templates = _environment()


def render(
    request: Request,
    viewer: Viewer | None,
    name: str,
    status: int = 200,
    **context: Any,
) -> Response:
    """Render a page or fragment for `viewer`, with the security headers and session cookie.

    Templates write every URL as `{{ root }}/dashboard/...`, under the prefix the app is
    served at; `path` is the route path below it.
    """
    flash = viewer.session.pop_flash() if viewer is not None and not name.startswith("_") else None
    html = templates.get_template(name).render(
        request=request,
        viewer=viewer,
        flash=flash,
        root=root_path(request.scope),
        path=route_path(request.scope),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if viewer is not None:
        remember(request, response, viewer.session)
    return response


def with_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
