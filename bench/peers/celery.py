"""Celery on Redis: `celery worker` with its default prefork pool (one child per core)."""

from __future__ import annotations

from celery import Celery, group

from ..probe import done
from ._redis import RedisPeer
from ._support import redis_url

CONCURRENCY = 2

app = Celery("bench", broker=redis_url())
app.conf.update(
    task_ignore_result=True, task_default_queue="bench", worker_hijack_root_logger=False
)


@app.task(name="noop")
def noop(sent: float = 0.0) -> None:
    done(sent)


class CeleryPeer(RedisPeer):
    name = "celery"
    settings = f"`celery worker --pool prefork -c {CONCURRENCY}` (results off)"
    drain_n = 5_000

    def setup(self) -> None:
        app.conf.broker_url = self.ctx.redis_url

    def enqueue_call(self, sent: float = 0.0) -> None:
        if sent:
            noop.delay(sent)
        else:
            noop.delay()

    def enqueue_bulk_call(self, count: int) -> None:
        # No bulk insert; a group publishes one message per task over one connection.
        group(noop.s() for _ in range(count)).apply_async()

    def worker_command(self) -> list[str]:
        return [
            "celery",
            "-A",
            "bench.peers.celery:app",
            "worker",
            "--pool",
            "prefork",
            "-c",
            str(CONCURRENCY),
            "-Q",
            "bench",
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]


PEER = CeleryPeer
