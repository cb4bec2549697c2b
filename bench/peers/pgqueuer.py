"""pgqueuer on PostgreSQL: `PgQueuer.run(batch_size=100)` with an asyncpg connection.

The worker is this module run as a script calling pgqueuer's documented `PgQueuer.run`, the
loop `pgq run` drives: pgqueuer 1.6's `pgq run` exits at start-up here (its log set-up gets
the log level as a str and reads `.name` from it).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from ..probe import done
from ..system import System
from ._support import PG_ENV, create_database, drop_database, pg_dsn

BATCH_SIZE = 100


async def create() -> Any:
    """The factory `pgq run` calls: a PgQueuer with one no-op entrypoint."""
    import asyncpg
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job

    conn = await asyncpg.connect(pg_dsn())
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        done(float(job.payload.decode()) if job.payload else 0.0)

    return pgq


class PgQueuerPeer(System):
    name = "pgqueuer"
    backend = "postgresql"
    settings = f"`PgQueuer.run(batch_size={BATCH_SIZE})` (asyncpg, async entrypoint)"
    drain_n = 20_000

    def setup(self) -> None:
        self.database = f"bench_pgq_{self.ctx.run_id}"
        self.dsn = create_database(self.ctx.pg_dsn, self.database)
        self.run(self._connect())

    async def _connect(self) -> None:
        import asyncpg
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        self.conn = await asyncpg.connect(self.dsn)
        self.queries = Queries(AsyncpgDriver(self.conn))
        await self.queries.install()

    def teardown(self) -> None:
        self.run(self.conn.close())
        self.close_loop()
        drop_database(self.ctx.pg_dsn, self.database)

    def reset(self) -> None:
        self.run(self.conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics"))

    def enqueue_call(self, sent: float = 0.0) -> None:
        self.run(self.queries.enqueue("noop", repr(sent).encode() if sent else None))

    def enqueue_bulk_call(self, count: int) -> None:
        self.run(self.queries.enqueue(["noop"] * count, [None] * count, [0] * count))

    def worker_command(self) -> list[str]:
        return ["python", "-m", "bench.peers.pgqueuer"]

    def worker_env(self) -> dict[str, str]:
        return {PG_ENV: self.dsn, "PGDSN": self.dsn}


PEER = PgQueuerPeer


async def _work() -> None:
    pgq = await create()
    await pgq.run(dequeue_timeout=timedelta(seconds=30), batch_size=BATCH_SIZE)


if __name__ == "__main__":
    asyncio.run(_work())
    sys.exit(0)
