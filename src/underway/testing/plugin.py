"""The `underway` pytest plugin (registered by entry point): fixtures for testing jobs.

`underway_app` is your App, found by the `underway_app` ini option (`module:attribute`), else
`UNDERWAY_APP`, else `[tool.underway] app` in pyproject.toml, on a fresh database for each
test (`underway_database` ini option, default `memory://`) and on `underway_clock`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..app import App
from ..app.locating import choose_app, load_app
from ..errors import ConfigurationError
from .clock import Clock

APP_OPTION = "underway_app"
DATABASE_OPTION = "underway_database"
DEFAULT_TEST_DATABASE = "memory://"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(APP_OPTION, "your App as module:attribute, for the underway_app fixture")
    parser.addini(DATABASE_OPTION, f"database each test's app uses ({DEFAULT_TEST_DATABASE})")


@pytest.fixture
def underway_clock() -> Clock:
    """A clock frozen at the test's start; `advance` it to make time pass."""
    return Clock()


@pytest.fixture
def underway_app(request: pytest.FixtureRequest, underway_clock: Clock) -> Iterator[App]:
    """Your app with its jobs, on a fresh database and `underway_clock` for this test."""
    app = find_app(request.config)
    url = str(request.config.getini(DATABASE_OPTION) or DEFAULT_TEST_DATABASE)
    own_url, own_inline = app.database_url, app.inline
    app.use_database(url, clock=underway_clock)
    try:
        # Stores the cron declarations now, so their schedules start at the test's start.
        app.runtime.call(app.drain_async())
        yield app
    finally:
        for worker in app.running_workers:
            worker.stop()
        app.inline = own_inline
        app.use_database(own_url)


@pytest.fixture
def underway_inline(underway_app: App) -> App:
    """`underway_app` in inline mode: each enqueue runs its job before it returns."""
    underway_app.inline = True
    return underway_app


def find_app(config: pytest.Config) -> App:
    """The App named by the ini option, UNDERWAY_APP or [tool.underway] app."""
    option = str(config.getini(APP_OPTION) or "") or None
    choice = choose_app(option, f"the {APP_OPTION} ini option", Path(config.rootpath))
    if choice is None:
        raise ConfigurationError(
            "the underway_app fixture needs your app: set underway_app = "
            '"myproject.jobs:app" under [tool.pytest.ini_options], or UNDERWAY_APP'
        )
    return load_app(choice.path)
