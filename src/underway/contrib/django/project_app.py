"""The project's one underway App: jobs from every installed app's `jobs.py` register on it,
and `UnderwayConfig.ready()` points it at the database `settings.UNDERWAY` names."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from ...app import App
from .configuration import UnderwaySettings, read_settings

#: The project's app: `from underway.contrib.django import app`, then `@app.job`.
app = App()


@cache
def underway_settings() -> UnderwaySettings:
    """`settings.UNDERWAY`, read once per process."""
    return read_settings(settings)


def configure() -> None:
    """Point the app at the database of `settings.UNDERWAY` (before it first opens it)."""
    app.database_url = underway_settings().database_url
