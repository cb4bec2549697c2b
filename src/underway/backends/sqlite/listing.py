"""Statements that take a list of values on SQLite, which binds no arrays."""

from __future__ import annotations


def listing(statement: str, name: str, count: int, first: int | None = None) -> str:
    """`statement` with `count` parameters where it names the list `name`: SQLite binds no
    arrays, so a list of values takes one `?` each (numbered from `first` in a statement
    whose other parameters are numbered)."""
    if first is None:
        return statement.replace(name, ",".join("?" * count))
    return statement.replace(name, ",".join(f"?{first + i}" for i in range(count)))
