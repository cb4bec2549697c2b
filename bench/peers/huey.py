"""huey with its SQLite storage: `huey_consumer -k thread -w 4`, polling from 5 ms to 50 ms."""

from __future__ import annotations

import os
from pathlib import Path

from huey import SqliteHuey

from ..probe import done
from ..system import System

WORKERS = 4
HUEY_DB_ENV = "BENCH_HUEY_DB"

huey = SqliteHuey(
    "bench", filename=os.environ.get(HUEY_DB_ENV, "/tmp/bench-huey.db"), results=False
)


@huey.task()
def noop(sent: float = 0.0) -> None:
    done(sent)


class HueyPeer(System):
    name = "huey"
    backend = "sqlite"
    settings = f"`huey_consumer -k thread -w {WORKERS} -d 0.005 -m 0.05` (results off)"
    drain_n = 5_000

    def setup(self) -> None:
        self.path = Path(self.ctx.workdir) / "huey.db"
        self.huey = SqliteHuey("bench", filename=str(self.path), results=False)
        self.noop = self.huey.task(name=noop.name)(noop.func)

    def teardown(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def reset(self) -> None:
        self.huey.flush()

    def enqueue_call(self, sent: float = 0.0) -> None:
        if sent:
            self.noop(sent)
        else:
            self.noop()

    def enqueue_bulk_call(self, count: int) -> None:
        # huey has no bulk insert; `map` enqueues one task per item.
        self.noop.map([() for _ in range(count)])

    def worker_command(self) -> list[str]:
        return [
            "huey_consumer",
            "bench.peers.huey.huey",
            "-k",
            "thread",
            "-w",
            str(WORKERS),
            "-d",
            "0.005",
            "-m",
            "0.05",
            "-q",
        ]

    def worker_env(self) -> dict[str, str]:
        return {HUEY_DB_ENV: str(self.path)}


PEER = HueyPeer
