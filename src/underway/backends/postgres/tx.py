"""Tx: the statements of one open PostgreSQL transaction, on a pooled or a caller's connection."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row

Row = dict[str, Any]
#: The first statement of a read whose statements must all see the same snapshot (and the
#: same now()): under READ COMMITTED each would see what committed before it began.
ONE_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def batch_params(
    types: Mapping[str, str], rows: Sequence[Sequence[Any]]
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """A batch's rows as parameters named by the columns of `types`, and which columns vary.

    A column whose value differs between rows is sent as an array; one that is the same in
    every row is sent once: psycopg dumps arrays element by element in Python, and in most
    batches most columns are the same for every row. The first column (the rows' key) is
    always an array when there are several rows, so the batch keeps its length.
    """
    columns = dict(zip(types, zip(*rows, strict=True), strict=True))
    varying = tuple(
        name
        for position, (name, column) in enumerate(columns.items())
        if len(column) > 1 and (position == 0 or column.count(column[0]) != len(column))
    )
    params = {
        name: list(column) if name in varying else column[0] for name, column in columns.items()
    }
    return varying, params


def batch_select(types: Mapping[str, str], varying: Sequence[str], *, numbered: bool) -> str:
    """A SELECT of one row per batch item with the columns of `types` (see `batch_params`):
    varying columns unnested from arrays, the others one parameter each. `numbered` adds the
    item's position in the batch as column n."""
    values = ", ".join(
        f"v.{name}" if name in varying else f"%({name})s::{kind}" for name, kind in types.items()
    )
    if not varying:
        return f"SELECT {values}, 1 AS n" if numbered else f"SELECT {values}"
    # Arrays go in binary: psycopg's text format quotes each element in Python, its binary
    # format packs them.
    arrays = ", ".join(f"%({name})b::{types[name]}[]" for name in varying)
    names = ", ".join(varying)
    if numbered:
        return f"SELECT {values}, v.n FROM unnest({arrays}) WITH ORDINALITY AS v({names}, n)"
    return f"SELECT {values} FROM unnest({arrays}) AS v({names})"


def with_batch(statement: str, batch: str) -> str:
    """`statement` reading its rows from `batch` (a `batch_select`) where it says `{batch}`."""
    return statement.replace("{batch}", batch)


class Tx:
    """One open transaction; SQL text may name tables as `{schema}.table`."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._quoted = f'"{schema}"'

    def sql(self, text: str) -> Any:
        return cast(Any, text.replace("{schema}", self._quoted))

    async def rows(self, text: str, params: Any = None, *, planned: bool = False) -> list[Row]:
        """The statement's rows. `planned`: plan it for these very parameters every time,
        never from the connection's generic plan (for filters whose best plan depends on
        the values, such as a rare or a common state)."""
        raise NotImplementedError

    async def tuples(self, text: str, params: Any = None) -> list[tuple[Any, ...]]:
        """The statement's rows as tuples, in the order of its columns: a dict per row cost
        as much as reading it, on reads of thousands of rows."""
        raise NotImplementedError

    async def run(self, text: str, params: Any = None) -> int:
        """Execute a statement and return how many rows it changed."""
        raise NotImplementedError

    async def script(self, text: str) -> None:
        """Execute several statements at once (a migration): never prepared, which only a
        single statement can be."""
        raise NotImplementedError

    async def batch(self, statements: Sequence[tuple[str, Any]]) -> list[list[Row]]:
        """The rows of each statement (none for one that returns no rows, as BEGIN), all
        sent before any is read: one round trip."""
        return [await self.rows(text, params) for text, params in statements]

    async def many(self, text: str, params: Sequence[Any]) -> None:
        raise NotImplementedError

    def savepoint(self) -> Any:
        """An async context manager: statements inside it roll back alone if they fail."""
        raise NotImplementedError

    async def row(self, text: str, params: Any = None, *, planned: bool = False) -> Row | None:
        found = await self.rows(text, params, planned=planned)
        return found[0] if found else None


class AsyncTx(Tx):
    """A transaction on an async connection (the backend's pool, or a caller's)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], schema: str) -> None:
        super().__init__(schema)
        self.conn = conn

    async def rows(self, text: str, params: Any = None, *, planned: bool = False) -> list[Row]:
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(self.sql(text), params, prepare=False if planned else None)
            return await cur.fetchall()

    async def tuples(self, text: str, params: Any = None) -> list[tuple[Any, ...]]:
        async with self.conn.cursor() as cur:
            await cur.execute(self.sql(text), params)
            return await cur.fetchall()

    async def run(self, text: str, params: Any = None) -> int:
        cur = await self.conn.execute(self.sql(text), params)
        return cur.rowcount

    async def script(self, text: str) -> None:
        await self.conn.execute(self.sql(text), prepare=False)

    async def batch(self, statements: Sequence[tuple[str, Any]]) -> list[list[Row]]:
        async with contextlib.AsyncExitStack() as cursors:
            sent = []
            # A pipeline block of its own syncs as it ends: every statement's result is in.
            async with self.conn.pipeline():
                for text, params in statements:
                    cur = await cursors.enter_async_context(self.conn.cursor(row_factory=dict_row))
                    await cur.execute(self.sql(text), params)
                    sent.append(cur)
            return [await cur.fetchall() if cur.description else [] for cur in sent]

    async def many(self, text: str, params: Sequence[Any]) -> None:
        if params:
            async with self.conn.cursor() as cur:
                await cur.executemany(self.sql(text), params)

    def savepoint(self) -> Any:
        return self.conn.transaction()


class SyncTx(Tx):
    """A transaction on a caller's blocking connection (transactional enqueue from sync code)."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        super().__init__(schema)
        self.conn = conn

    async def rows(self, text: str, params: Any = None, *, planned: bool = False) -> list[Row]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(self.sql(text), params, prepare=False if planned else None)
            return cur.fetchall()

    async def run(self, text: str, params: Any = None) -> int:
        return self.conn.execute(self.sql(text), params).rowcount

    async def many(self, text: str, params: Sequence[Any]) -> None:
        if params:
            with self.conn.cursor() as cur:
                cur.executemany(self.sql(text), params)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        with self.conn.transaction():
            yield
