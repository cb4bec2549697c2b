"""SAQ on Redis: `saq settings --workers 1` with concurrency 10 (its default)."""

from __future__ import annotations

import asyncio
from typing import Any

from saq import Queue

from ..probe import done
from ._redis import RedisPeer
from ._support import redis_url

CONCURRENCY = 10


async def noop(ctx: dict[str, Any], *, sent: float = 0.0) -> None:
    done(sent)


settings = {
    "queue": Queue.from_url(redis_url(), name="bench"),
    "functions": [noop],
    "concurrency": CONCURRENCY,
}


class SaqPeer(RedisPeer):
    name = "saq"
    settings = f"`saq settings --workers 1` (concurrency {CONCURRENCY})"
    drain_n = 5_000

    def setup(self) -> None:
        self.queue = Queue.from_url(self.ctx.redis_url, name="bench")
        self.run(self.queue.connect())

    def teardown(self) -> None:
        self.run(self.queue.disconnect())
        super().teardown()

    def enqueue_call(self, sent: float = 0.0) -> None:
        self.run(self.queue.enqueue("noop", sent=sent))

    def enqueue_bulk_call(self, count: int) -> None:
        # No bulk insert; concurrent enqueue calls on one connection pool.
        async def many() -> None:
            await asyncio.gather(*(self.queue.enqueue("noop") for _ in range(count)))

        self.run(many())

    def worker_command(self) -> list[str]:
        return ["saq", "bench.peers.saq.settings", "--workers", "1", "--quiet"]


PEER = SaqPeer
