"""Applying SQLite's migrations (`migrations/`, in file-name order), once per version."""

from __future__ import annotations

import sqlite3

from ..migrations import migration_scripts

CREATE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS underway_migrations (version TEXT PRIMARY KEY, applied_at REAL NOT NULL)
"""
APPLIED = "SELECT version FROM underway_migrations"
RECORD = "INSERT INTO underway_migrations VALUES (?, strftime('%s','now'))"


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in one write transaction; return the versions applied. The
    connection is raw (sqlite3 runs no script inside a transaction it did not open)."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(CREATE_MIGRATIONS)
        done = {row[0] for row in conn.execute(APPLIED)}
        applied = []
        for version, script in migration_scripts("underway.backends.sqlite"):
            if version in done:
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(RECORD, (version,))
            applied.append(version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
