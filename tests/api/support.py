"""Jobs, servers and waiting helpers shared by the HTTP API tests."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from tests.waiting import wait_until
from underway import App, JobContext

T = TypeVar("T")

#: Keys of holding jobs allowed to finish; tests add to it ("*" releases all).
RELEASED: set[str] = set()


async def _hold(ctx: JobContext, key: str) -> str:
    """Run until the test releases `key` or the job is cancelled."""
    ctx.progress(5, f"holding {key}")
    # Polled: the test thread releases keys, and cancellation arrives on a threading.Event.
    while key not in RELEASED and "*" not in RELEASED and not ctx.cancelled:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return key


def build_app(database_url: str) -> App:
    """An app with the jobs the API tests submit."""
    app = App(database_url)

    @app.job
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    @app.job
    async def report(ctx: JobContext, month: str, tenant: int) -> dict[str, Any]:
        """Build a monthly report."""
        ctx.progress(50, "reading rows")
        ctx.log(f"report for tenant {tenant}")
        return {"url": f"/reports/{month}/{tenant}"}

    @app.job
    def explode(message: str) -> None:
        """Always fails."""
        raise ValueError(message)

    @app.job
    async def blocking(ctx: JobContext, key: str) -> str:
        return await _hold(ctx, key)

    @app.job(unique="skip")
    async def single(ctx: JobContext, key: str) -> str:
        return await _hold(ctx, key)

    @app.job(unique="join")
    async def shared(ctx: JobContext, key: str) -> str:
        return await _hold(ctx, key)

    @app.job(queue="reports")
    def in_reports_queue(n: int = 0) -> int:
        return n

    @app.job
    def remind(delay: float) -> float:
        """A parameter named like an enqueue option."""
        return delay

    return app


class LiveServer:
    """A real uvicorn server on 127.0.0.1 and a free port, run in a thread."""

    def __init__(self, api: FastAPI) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this; without it keep-alive clients wait 40 ms per request
        # (Nagle meets delayed ACK), as asyncio only sets it on sockets made with IPPROTO_TCP.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            api, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
