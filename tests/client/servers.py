"""`underway serve` and `underway worker` of the client tests' jobs, as real processes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

import underway
from tests.user_environment import without_underway_settings
from tests.waiting import wait_until

HERE = Path(__file__).resolve().parent
SRC = Path(underway.__file__).resolve().parents[1]
VIEW_TOKEN = "client-view-token-0123"
MANAGE_TOKEN = "client-manage-token-0123"
FAST_WORKER = ["--poll-interval=0.05", "--flush-interval=0.05", "--shutdown-grace=1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(*args: str, log: Path) -> subprocess.Popen[Any]:
    """`python -m underway ARGS` from this directory, its stderr going to `log`."""
    env = {**without_underway_settings(), "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    with log.open("a") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "underway", *args, "--app", "remote_jobs:app"],
            cwd=HERE,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def start_api(database: str, port: int, log: Path) -> subprocess.Popen[Any]:
    """The API alone (`--no-worker`), with a view and a manage token; returns once it answers."""
    process = start(
        "serve",
        "--no-worker",
        "--port",
        str(port),
        "--database",
        database,
        "--token",
        f"{VIEW_TOKEN}:jobs:view",
        "--token",
        f"{MANAGE_TOKEN}:jobs:manage",
        log=log,
    )
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30, what=str(log))
    return process


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
