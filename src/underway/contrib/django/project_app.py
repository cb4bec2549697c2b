"""The project's one underway App: jobs from every installed app's `jobs.py` register on it,
and `UnderwayConfig.ready()` points it at the database `settings.UNDERWAY` names."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings

from ...app import App
from ...app.job_function import JobFunction
from .configuration import UnderwaySettings, read_settings
from .connections import with_fresh_connections


class ProjectApp(App):
    """An App whose sync jobs close stale Django connections before and after each run."""

    def _register(self, fn: Callable[..., Any], options: dict[str, Any]) -> Any:
        if not isinstance(fn, JobFunction):
            fn = with_fresh_connections(fn)
        return super()._register(fn, options)


#: The project's app: `from underway.contrib.django import app`, then `@app.job`.
app = ProjectApp()


@cache
def underway_settings() -> UnderwaySettings:
    """`settings.UNDERWAY`, read once per process."""
    return read_settings(settings)


def configure() -> None:
    """Point the app at the database of `settings.UNDERWAY` (before it first opens it)."""
    app.database_url = underway_settings().database_url
