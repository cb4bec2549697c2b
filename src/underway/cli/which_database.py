"""Which app and database a command acts on, chosen the same way by every command: --database,
else the app's (--app, else UNDERWAY_APP, else [tool.underway] app in ./pyproject.toml), else
UNDERWAY_DATABASE_URL, else sqlite:///underway.db."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..app import App
from ..app.application import DEFAULT_DATABASE
from ..app.locating import choose_app, load_app
from ..backends.memory import is_memory_url
from ..backends.memory.databases import USE_ONE_PROCESS
from .loading import CommandError

DATABASE_VARIABLE = "UNDERWAY_DATABASE_URL"
HOW_TO_NAME_AN_APP = (
    "pass --app module:attribute, set UNDERWAY_APP, or set app under [tool.underway] in "
    "pyproject.toml"
)


@dataclass(frozen=True, slots=True)
class Target:
    """The database a command acts on, how it was chosen, and the app when one was loaded."""

    url: str
    #: How the URL was chosen, for messages: "from --database", "from the default", ...
    chosen_by: str
    #: What the user would check if the URL is not the one they meant.
    check: str
    app: App | None = None

    def app_on_database(self, *, migrate: bool = True) -> App:
        """The loaded app on the chosen database, or a bare app on it (enough to read jobs)."""
        if self.app is None or not migrate:
            return App(self.url, migrate=migrate)
        self.app.database_url = self.url
        return self.app


def choose(
    app_option: str | None,
    database_option: str | None,
    *,
    needs_app: str | None = None,
) -> Target:
    """The target of one command; `needs_app` names a command that cannot run without the app
    (its jobs), which is then always imported. A memory database is refused: the command's
    own process is not the one whose jobs it lives with."""
    if database_option:
        refuse_memory_database(database_option, "from --database")  # before importing the app
    target = choose_target(app_option, database_option, needs_app=needs_app)
    refuse_memory_database(target.url, target.chosen_by)
    return target


def refuse_memory_database(url: str, chosen_by: str) -> None:
    if is_memory_url(url):
        raise CommandError(
            f"the database is {url} ({chosen_by}): memory:// databases live inside one "
            "process, and a command or worker in another process cannot see it; "
            f"{USE_ONE_PROCESS}"
        )


def choose_target(
    app_option: str | None,
    database_option: str | None,
    *,
    needs_app: str | None = None,
) -> Target:
    """The target of one command, whatever database it names."""
    choice = choose_app(app_option, "--app", Path())
    if needs_app and choice is None:
        raise CommandError(f"{needs_app} needs your app ({HOW_TO_NAME_AN_APP})")
    load = choice is not None and (
        bool(needs_app) or choice.named_by == "--app" or database_option is None
    )
    app = load_app(choice.path) if choice is not None and load else None
    if database_option:
        return Target(database_option, "from --database", "check --database", app)
    if app is not None and choice is not None:
        chosen_by = f"from the app {choice.path} ({choice.named_by})"
        return Target(app.database_url, chosen_by, "check the app's database URL", app)
    from_environment = os.environ.get(DATABASE_VARIABLE)
    if from_environment:
        return Target(
            from_environment, f"from {DATABASE_VARIABLE}", f"check {DATABASE_VARIABLE}", app
        )
    return Target(DEFAULT_DATABASE, "from the default", "pass --app or --database", app)


def require_database(target: Target, *, can_create: bool = False) -> None:
    """Refuse a SQLite file that does not exist rather than create an empty one by accident;
    the message says how the URL was chosen and how to get the right one."""
    if not target.url.startswith("sqlite:"):
        return
    from ..backends.sqlite import sqlite_path

    path = sqlite_path(target.url)
    if Path(path).is_file():
        return
    create = "pass --create or run `underway migrate`" if can_create else "run `underway migrate`"
    raise CommandError(f"no database at {path} ({target.chosen_by}; {target.check}, or {create})")


@contextlib.contextmanager
def opened(
    target: Target, *, create: bool = False, offers_create: bool = False, migrate: bool = True
) -> Iterator[App]:
    """The target's app for one command, closed afterwards. Unless `create`, a SQLite file
    that does not exist is refused (`offers_create`: the command has a --create option)."""
    if not create:
        require_database(target, can_create=offers_create)
    loaded = target.app
    own_url = None if loaded is None else loaded.database_url
    own_create = None if loaded is None else loaded.create
    app = target.app_on_database(migrate=migrate)
    app.create = create  # checked above too; this also closes the race with another process
    try:
        yield app
    finally:
        app.close()
        if loaded is not None and own_url is not None and own_create is not None:
            loaded.database_url = own_url  # the app is the user's: leave it as it was
            loaded.create = own_create
