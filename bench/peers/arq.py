"""arq on Redis: `arq WorkerSettings` with its defaults (max_jobs 10, poll_delay 0.5 s)."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import RedisSettings, create_pool

from ..probe import done
from ._redis import RedisPeer
from ._support import redis_url


async def noop(ctx: dict[str, Any], sent: float = 0.0) -> None:
    done(sent)


class WorkerSettings:
    functions = [noop]
    redis_settings = RedisSettings.from_dsn(redis_url())
    keep_result = 0


class ArqPeer(RedisPeer):
    name = "arq"
    settings = "`arq WorkerSettings` (defaults: max_jobs 10, poll_delay 0.5 s)"
    drain_n = 5_000

    def setup(self) -> None:
        self.pool = self.run(create_pool(RedisSettings.from_dsn(self.ctx.redis_url)))

    def teardown(self) -> None:
        self.run(self.pool.aclose())
        super().teardown()

    def enqueue_call(self, sent: float = 0.0) -> None:
        self.run(self.pool.enqueue_job("noop", sent))

    def enqueue_bulk_call(self, count: int) -> None:
        # No bulk insert; concurrent enqueue_job calls over the pool.
        async def many() -> None:
            await asyncio.gather(*(self.pool.enqueue_job("noop") for _ in range(count)))

        self.run(many())

    def worker_command(self) -> list[str]:
        return ["arq", "bench.peers.arq.WorkerSettings"]


PEER = ArqPeer
