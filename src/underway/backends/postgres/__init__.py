"""The PostgreSQL dialect: for workers on several machines."""

from .backend import PostgresBackend

__all__ = ["PostgresBackend"]
