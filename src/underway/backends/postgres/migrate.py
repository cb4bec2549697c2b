"""Applying PostgreSQL's migrations (`migrations/`, in file-name order), once per version."""

from __future__ import annotations

from ..migrations import migration_scripts
from .tx import Tx

#: Concurrent starts take turns: each sees the versions the one before it applied.
MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
CREATE_SCHEMA = "CREATE SCHEMA IF NOT EXISTS {schema}"
CREATE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS {schema}.migrations
    (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
"""
APPLIED = "SELECT version FROM {schema}.migrations"
RECORD = "INSERT INTO {schema}.migrations (version) VALUES (%s)"


async def apply_migrations(tx: Tx) -> list[str]:
    """Apply pending migrations; return the versions applied."""
    await tx.run(MIGRATION_LOCK, (f"underway:migrate:{tx.schema}",))
    await tx.run(CREATE_SCHEMA)
    await tx.run(CREATE_MIGRATIONS)
    done = {row["version"] for row in await tx.rows(APPLIED)}
    applied = []
    for version, script in migration_scripts("underway.backends.postgres"):
        if version in done:
            continue
        await tx.script(script)
        await tx.run(RECORD, (version,))
        applied.append(version)
    return applied
