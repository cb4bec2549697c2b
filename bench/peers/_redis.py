"""The part every Redis-backed peer shares: a flushed Redis database per scenario."""

from __future__ import annotations

from ..system import System
from ._support import REDIS_ENV, flush_redis


class RedisPeer(System):
    backend = "redis"

    def reset(self) -> None:
        flush_redis(self.ctx.redis_url)

    def teardown(self) -> None:
        flush_redis(self.ctx.redis_url)
        self.close_loop()

    def worker_env(self) -> dict[str, str]:
        return {REDIS_ENV: self.ctx.redis_url}
