"""A database as the migrations before a given one left it, to test that migration on it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_URL
from underway.backends.migrations import migration_scripts
from underway.backends.postgres import migrate as postgres_migrate
from underway.backends.sqlite import migrate as sqlite_migrate


def sqlite_before(path: Path, version: str) -> None:
    """The SQLite file at `path` as the migrations before `version` left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(sqlite_migrate.CREATE_MIGRATIONS)
        for applied, script in migration_scripts("underway.backends.sqlite"):
            if applied >= version:
                break
            conn.executescript(script)
            conn.execute(sqlite_migrate.RECORD, (applied,))
    finally:
        conn.close()


def postgres_before(schema: str, version: str) -> None:
    """The PostgreSQL schema as the migrations before `version` left it."""

    def run(statement: str, params: tuple[str, ...] | None = None) -> None:
        conn.execute(statement.replace("{schema}", f'"{schema}"'), params)

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        run(postgres_migrate.CREATE_SCHEMA)
        run(postgres_migrate.CREATE_MIGRATIONS)
        for applied, script in migration_scripts("underway.backends.postgres"):
            if applied >= version:
                break
            run(script)
            run(postgres_migrate.RECORD, (applied,))
