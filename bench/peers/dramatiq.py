"""Dramatiq on Redis: `dramatiq -p 1 -t 8` (one process, its default 8 threads)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from ..probe import done
from ._redis import RedisPeer
from ._support import redis_url

THREADS = 8

broker = RedisBroker(url=redis_url())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="bench", max_retries=0)
def noop(sent: float = 0.0) -> None:
    done(sent)


class DramatiqPeer(RedisPeer):
    name = "dramatiq"
    settings = f"`dramatiq -p 1 -t {THREADS}` per worker process"
    drain_n = 5_000

    def setup(self) -> None:
        global broker
        broker = RedisBroker(url=self.ctx.redis_url)
        dramatiq.set_broker(broker)
        noop.broker = broker
        broker.declare_actor(noop)

    def enqueue_call(self, sent: float = 0.0) -> None:
        if sent:
            noop.send(sent)
        else:
            noop.send()

    def enqueue_bulk_call(self, count: int) -> None:
        # No bulk insert; a group enqueues one message per task.
        dramatiq.group(noop.message() for _ in range(count)).run()

    def worker_command(self) -> list[str]:
        return ["dramatiq", "bench.peers.dramatiq", "-p", "1", "-t", str(THREADS)]


PEER = DramatiqPeer
