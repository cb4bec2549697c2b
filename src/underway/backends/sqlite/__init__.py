"""The SQLite dialect: the embedded default, one file shared by the processes of one machine."""

from .backend import SQLiteBackend
from .open_errors import sqlite_path

__all__ = ["SQLiteBackend", "sqlite_path"]
