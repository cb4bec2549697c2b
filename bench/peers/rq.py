"""RQ on Redis: `rq worker` (the default worker forks a work horse per job)."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from ..probe import done
from ._redis import RedisPeer


def noop(sent: float = 0.0) -> None:
    done(sent)


class RQPeer(RedisPeer):
    name = "rq"
    settings = "`rq worker` (default Worker: fork per job)"
    drain_n = 1_000

    def setup(self) -> None:
        self.redis = Redis.from_url(self.ctx.redis_url)
        self.queue = Queue("bench", connection=self.redis)

    def enqueue_call(self, sent: float = 0.0) -> None:
        if sent:
            self.queue.enqueue(noop, sent)
        else:
            self.queue.enqueue(noop)

    def enqueue_bulk_call(self, count: int) -> None:
        self.queue.enqueue_many([Queue.prepare_data(noop) for _ in range(count)])

    def worker_command(self) -> list[str]:
        return ["rq", "worker", "--url", self.ctx.redis_url, "--quiet", "bench"]


PEER = RQPeer
