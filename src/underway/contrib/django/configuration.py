"""The `UNDERWAY` setting: which database the project's jobs live in and where its jobs are.

`DATABASE` names an alias of `DATABASES` (PostgreSQL or SQLite, reused as it is: on
PostgreSQL in a schema of its own) or is an underway database URL (`memory://` for tests).
Every mistake raises `ImproperlyConfigured` naming the setting and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS

SETTING = "UNDERWAY"
KEYS = ("DATABASE", "SCHEMA", "JOBS_MODULE")
DEFAULT_SCHEMA = "underway"
DEFAULT_JOBS_MODULE = "jobs"
POSTGRES_ENGINES = ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")
SQLITE_ENGINES = ("django.db.backends.sqlite3", "django.contrib.gis.db.backends.spatialite")
URL_SCHEMES = ("sqlite:///", "postgresql://", "postgres://", "memory://")
#: Keys of a PostgreSQL entry's OPTIONS that Django reads itself; libpq would refuse them.
DJANGO_ONLY_OPTIONS = frozenset(
    {"isolation_level", "server_side_binding", "pool", "assume_role", "cursor_factory", "context"}
)
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True, slots=True)
class UnderwaySettings:
    """What `UNDERWAY` says: the database URL, the alias it reuses (if any), its dialect."""

    database_url: str
    #: The `DATABASES` alias whose database the jobs live in; None for a URL of its own.
    alias: str | None
    is_postgres: bool
    jobs_module: str


def read_settings(settings: Any) -> UnderwaySettings:
    """`settings.UNDERWAY` checked and resolved (absent: the `default` database)."""
    given = getattr(settings, SETTING, {})
    if not isinstance(given, Mapping):
        raise ImproperlyConfigured(
            f"settings.{SETTING} must be a dict, like {{'DATABASE': 'default'}}; "
            f"got a {type(given).__name__}"
        )
    unknown = sorted(str(key) for key in given if key not in KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"settings.{SETTING} has unknown key(s) {', '.join(unknown)}; "
            f"the keys are {', '.join(KEYS)}"
        )
    database = _text(given, "DATABASE", DEFAULT_DB_ALIAS)
    schema = given.get("SCHEMA")
    jobs_module = _text(given, "JOBS_MODULE", DEFAULT_JOBS_MODULE)
    if not MODULE_NAME.fullmatch(jobs_module):
        raise ImproperlyConfigured(
            f"settings.{SETTING}['JOBS_MODULE'] is {jobs_module!r}: give a module name like 'jobs'"
        )
    if database.startswith(URL_SCHEMES):
        if schema is not None:
            raise ImproperlyConfigured(
                f"settings.{SETTING}['SCHEMA'] applies to a DATABASES alias; with a URL, "
                f"write the schema in it: {database.split('?')[0]}?schema={schema}"
            )
        is_postgres = database.startswith(("postgresql://", "postgres://"))
        return UnderwaySettings(database, None, is_postgres, jobs_module)
    url, is_postgres = alias_url(settings, database, _schema(schema))
    return UnderwaySettings(url, database, is_postgres, jobs_module)


def _text(given: Mapping[str, Any], key: str, default: str) -> str:
    value = given.get(key, default)
    if not isinstance(value, str) or not value:
        raise ImproperlyConfigured(
            f"settings.{SETTING}[{key!r}] must be a non-empty string, got {value!r}"
        )
    return value


def _schema(schema: Any) -> str:
    if schema is None:
        return DEFAULT_SCHEMA
    if not isinstance(schema, str) or not SCHEMA_NAME.fullmatch(schema):
        raise ImproperlyConfigured(
            f"settings.{SETTING}['SCHEMA'] is {schema!r}: use letters, digits and _ "
            f"(default {DEFAULT_SCHEMA!r})"
        )
    return schema


def alias_url(settings: Any, alias: str, schema: str) -> tuple[str, bool]:
    """The underway URL of the database behind a `DATABASES` alias, and whether it is
    PostgreSQL."""
    databases: Mapping[str, Any] = getattr(settings, "DATABASES", {})
    if alias not in databases:
        known = ", ".join(databases) or "none"
        raise ImproperlyConfigured(
            f"settings.{SETTING}['DATABASE'] is {alias!r}, which is not in DATABASES (its "
            f"aliases: {known}); name one of them, or give a URL like "
            "postgresql://user@host/db or sqlite:///jobs.db"
        )
    entry: Mapping[str, Any] = databases[alias]
    engine = entry.get("ENGINE", "")
    if engine in POSTGRES_ENGINES:
        return postgres_url(entry, schema), True
    if engine in SQLITE_ENGINES:
        return sqlite_url(alias, entry), False
    raise ImproperlyConfigured(
        f"DATABASES[{alias!r}] uses {engine or 'no ENGINE'}; underway runs on PostgreSQL or "
        f"SQLite: point settings.{SETTING}['DATABASE'] at a PostgreSQL or SQLite alias, or at "
        "a URL like sqlite:///jobs.db"
    )


def postgres_url(entry: Mapping[str, Any], schema: str) -> str:
    """A postgresql:// URL for a Django PostgreSQL entry, in `schema`."""
    user = quote(str(entry.get("USER") or ""), safe="")
    password = quote(str(entry.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = str(entry.get("HOST") or ""), str(entry.get("PORT") or "")
    query: dict[str, str] = {}
    if host.startswith("/"):  # a Unix socket directory goes in the query, as libpq reads it
        query["host"], host = host, ""
    elif ":" in host:
        host = f"[{host}]"
    netloc = credentials + host + (f":{port}" if port else "")
    options: Mapping[str, Any] = entry.get("OPTIONS") or {}
    for key, value in options.items():
        if key not in DJANGO_ONLY_OPTIONS and isinstance(value, str | int):
            query[key] = str(value)
    query["schema"] = schema
    name = quote(str(entry.get("NAME") or ""), safe="")
    return f"postgresql://{netloc}/{name}?{urlencode(query)}"


def sqlite_url(alias: str, entry: Mapping[str, Any]) -> str:
    """A sqlite:/// URL for the file of a Django SQLite entry."""
    name = str(entry.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        raise ImproperlyConfigured(
            f"DATABASES[{alias!r}] is an in-memory SQLite database, which a worker in another "
            f"process cannot see: give it a file NAME, or point settings.{SETTING}['DATABASE'] "
            "at a URL like sqlite:///jobs.db"
        )
    return f"sqlite:///{Path(name).absolute()}"
