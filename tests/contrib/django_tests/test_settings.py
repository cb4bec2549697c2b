"""settings.UNDERWAY read into a database URL, and each mistake named with its fix."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from underway.contrib.django.configuration import read_settings

POSTGRES = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "shop",
    "USER": "web",
    "PASSWORD": "p@ss word",
    "HOST": "db.internal",
    "PORT": 5433,
    "OPTIONS": {"sslmode": "require", "server_side_binding": True},
}
SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/shop/db.sqlite3"}


def settings(underway: Any = None, **databases: dict[str, Any]) -> SimpleNamespace:
    values: dict[str, Any] = {"DATABASES": databases or {"default": SQLITE}}
    if underway is not None:
        values["UNDERWAY"] = underway
    return SimpleNamespace(**values)


def test_without_the_setting_the_jobs_live_in_the_default_database() -> None:
    read = read_settings(settings())
    assert read.database_url == "sqlite:////srv/shop/db.sqlite3"
    assert (read.alias, read.is_postgres, read.jobs_module) == ("default", False, "jobs")


def test_a_postgres_alias_becomes_a_url_in_the_underway_schema() -> None:
    read = read_settings(settings({"DATABASE": "main"}, main=POSTGRES))
    assert read.database_url == (
        "postgresql://web:p%40ss%20word@db.internal:5433/shop?sslmode=require&schema=underway"
    )
    assert (read.alias, read.is_postgres) == ("main", True)


def test_a_socket_directory_and_a_schema_of_ones_own() -> None:
    entry = {**POSTGRES, "HOST": "/run/postgresql", "PASSWORD": "", "OPTIONS": {}}
    read = read_settings(settings({"SCHEMA": "jobs"}, default=entry))
    assert read.database_url == "postgresql://web@:5433/shop?host=%2Frun%2Fpostgresql&schema=jobs"


def test_a_url_of_its_own() -> None:
    read = read_settings(settings({"DATABASE": "postgresql://db/jobs?schema=q"}))
    assert (read.database_url, read.alias, read.is_postgres) == (
        "postgresql://db/jobs?schema=q",
        None,
        True,
    )


def test_a_memory_database_for_tests() -> None:
    read = read_settings(settings({"DATABASE": "memory://shop-tests"}))
    assert (read.database_url, read.alias, read.is_postgres) == ("memory://shop-tests", None, False)


@pytest.mark.parametrize(
    ("underway", "databases", "message"),
    [
        ("default", {}, "must be a dict"),
        ({"DATABSE": "default"}, {}, "unknown key.*DATABSE.*DATABASE, SCHEMA, JOBS_MODULE"),
        ({"DATABASE": "jobs"}, {}, "'jobs', which is not in DATABASES.*aliases: default"),
        ({"DATABASE": ""}, {}, r"\['DATABASE'\] must be a non-empty string"),
        ({"SCHEMA": "my-jobs"}, {}, "use letters, digits and _"),
        ({"JOBS_MODULE": "background-jobs"}, {}, "give a module name"),
        ({"DATABASE": "sqlite:///j.db", "SCHEMA": "s"}, {}, r"sqlite:///j.db\?schema=s"),
        (
            None,
            {"default": {"ENGINE": "django.db.backends.mysql"}},
            "uses django.db.backends.mysql; underway runs on PostgreSQL or SQLite",
        ),
        (
            None,
            {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            "in-memory SQLite database.*give it a file NAME",
        ),
    ],
)
def test_each_mistake_names_the_setting_and_the_fix(
    underway: Any, databases: dict[str, Any], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        read_settings(settings(underway, **databases))
