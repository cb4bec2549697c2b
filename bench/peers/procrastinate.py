"""procrastinate on PostgreSQL: `procrastinate worker --concurrency 10`, async task."""

from __future__ import annotations

import os

import procrastinate

from ..probe import done
from ..system import System
from ._support import PG_ENV, create_database, drop_database

CONCURRENCY = 10

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get(PG_ENV, ""))
)


@app.task(name="noop", queue="bench")
async def noop(sent: float = 0.0) -> None:
    done(sent)


class ProcrastinatePeer(System):
    name = "procrastinate"
    backend = "postgresql"
    settings = f"`procrastinate worker --concurrency {CONCURRENCY}` (async task)"
    drain_n = 1_000

    def setup(self) -> None:
        self.database = f"bench_procr_{self.ctx.run_id}"
        self.dsn = create_database(self.ctx.pg_dsn, self.database)
        os.environ[PG_ENV] = self.dsn
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.dsn))
        self.noop = self.app.task(name="noop", queue="bench")(noop.func)
        self.run(self._open())
        self.run(self.app.schema_manager.apply_schema_async())

    async def _open(self) -> None:
        await self.app.open_async()

    def teardown(self) -> None:
        self.run(self.app.close_async())
        self.close_loop()
        drop_database(self.ctx.pg_dsn, self.database)

    def reset(self) -> None:
        async def truncate() -> None:
            await self.app.connector.execute_query_async("TRUNCATE procrastinate_jobs CASCADE")

        self.run(truncate())

    def enqueue_call(self, sent: float = 0.0) -> None:
        if sent:
            self.run(self.noop.defer_async(sent=sent))
        else:
            self.run(self.noop.defer_async())

    def enqueue_bulk_call(self, count: int) -> None:
        self.run(self.noop.batch_defer_async(*({} for _ in range(count))))

    def worker_command(self) -> list[str]:
        return [
            "procrastinate",
            "--app=bench.peers.procrastinate.app",
            "--log-level",
            "warning",
            "worker",
            "--concurrency",
            str(CONCURRENCY),
            "--queues",
            "bench",
        ]

    def worker_env(self) -> dict[str, str]:
        return {PG_ENV: self.dsn}


PEER = ProcrastinatePeer
