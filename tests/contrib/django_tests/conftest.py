"""The test shop set up once for the session: Django in this process on a SQLite file and a
PostgreSQL schema of its own (both migrated), and the environment that points a `manage.py`
subprocess at the same databases."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL

PROJECT = Path(__file__).resolve().parents[1] / "django_project"
ALIASES = ["default", "postgres"]  # the shop's SQLite and PostgreSQL databases


@dataclass(frozen=True)
class Shop:
    """The set-up test shop: the environment its processes need."""

    environment: dict[str, str]
    schema: str

    def manage(self, alias: str, **overrides: str) -> dict[str, str]:
        """The environment of a `manage.py` process whose jobs live in `alias`."""
        return {**os.environ, **self.environment, "SHOP_JOBS_DATABASE": alias, **overrides}


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    environment = {
        "DJANGO_SETTINGS_MODULE": "shopsite.settings",
        "SHOP_SQLITE_FILE": str(tmp_path_factory.mktemp("shop") / "shop.sqlite3"),
        "SHOP_PG_URL": POSTGRES_URL,
        "SHOP_PG_SCHEMA": schema,
    }
    sys.path.insert(0, str(PROJECT))
    import django
    from django.core.management import call_command
    from django.db import connections

    with environment_of(environment):  # read by the shop's settings module as Django sets up
        django.setup()
    for alias in ALIASES:
        call_command("migrate", database=alias, verbosity=0)
    try:
        yield Shop(environment, schema)
    finally:
        from underway.contrib.django import app

        app.close()
        connections.close_all()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        sys.path.remove(str(PROJECT))


@contextlib.contextmanager
def environment_of(variables: dict[str, str]) -> Iterator[None]:
    """`variables` in os.environ for a while, then as they were."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(params=ALIASES)
def jobs_alias(request: pytest.FixtureRequest, shop: Shop) -> Iterator[str]:
    """The alias whose database holds this test's orders and jobs, as settings.UNDERWAY and
    JOBS_DATABASE say; the project's app moved onto it."""
    alias: str = request.param
    with use_jobs_database(alias):
        yield alias


@pytest.fixture
def sqlite_jobs(shop: Shop) -> Iterator[str]:
    with use_jobs_database("default"):
        yield "default"


@pytest.fixture
def postgres_jobs(shop: Shop) -> Iterator[str]:
    with use_jobs_database("postgres"):
        yield "postgres"


@contextlib.contextmanager
def use_jobs_database(alias: str) -> Iterator[None]:
    """settings.UNDERWAY and JOBS_DATABASE naming `alias`, the project's app on it."""
    from django.conf import settings
    from django.test import override_settings

    with override_settings(UNDERWAY={**settings.UNDERWAY, "DATABASE": alias}, JOBS_DATABASE=alias):
        reconfigure()
        yield
    reconfigure()


def reconfigure() -> None:
    from underway.contrib.django import app
    from underway.contrib.django.project_app import underway_settings

    underway_settings.cache_clear()
    app.use_database(underway_settings().database_url)


def clean_environment() -> dict[str, str]:
    """The user's environment, without this run's underway and test-shop settings."""
    ours = ("UNDERWAY_", "SHOP_", "DJANGO_SETTINGS_MODULE")
    return {k: v for k, v in os.environ.items() if not k.startswith(ours)}
