"""Probe jobs and process entry points for multi-process tests.

Jobs append start/end records to a per-process ledger file (O_APPEND), so tests can check
what really ran independently of the queue's own state.

    python -m tests.processes.probe worker [concurrency]
    python -m tests.processes.probe enqueue MODE THREADS   (waits for $PROBE_DIR/go)
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tests.ticks import EverySecond
from underway import App, JobContext, WorkerSettings

PROBE_DIR = Path(os.environ.get("PROBE_DIR", "."))
app = App()


if os.environ.get("PROBE_TICKS") == "seconds":
    app.schedule_for = lambda cron, timezone: EverySecond()
SETTINGS = {
    "poll_interval": 0.05,
    "heartbeat_interval": 0.2,
    "stall_timeout": 1.0,
    "sweep_interval": 0.1,
    "lease_check_interval": 0.05,
    "flush_interval": 0.05,
    "shutdown_grace": 2.0,
    "scheduler_interval": 0.05,
}


def record(ctx: JobContext, event: str, **extra: Any) -> None:
    line = {
        "job": ctx.job_id,
        "name": ctx.name,
        "attempt": ctx.attempt,
        "pid": os.getpid(),
        "ev": event,
        "t": time.monotonic(),
        **extra,
    }
    fd = os.open(PROBE_DIR / f"ledger-{os.getpid()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)


def hold_until_released(name: str) -> None:
    while not (PROBE_DIR / f"release-{name}").exists():
        time.sleep(0.01)


@app.job(unique="join")
def joined_work(ctx: JobContext, key: str) -> dict[str, str]:
    record(ctx, "start")
    hold_until_released("joined_work")
    record(ctx, "end")
    return {"key": key, "token": uuid.uuid4().hex}


@app.job(unique="skip")
def skipped_work(ctx: JobContext, key: str) -> str:
    record(ctx, "start")
    hold_until_released("skipped_work")
    record(ctx, "end")
    return key


@app.job(unique="queue", unique_by=("key",))
def queued_work(ctx: JobContext, key: str, n: int) -> int:
    record(ctx, "start", n=n)
    time.sleep(0.03)
    record(ctx, "end", n=n)
    return n


@app.job(concurrency=3, concurrency_key="tenant")
def tenant_work(ctx: JobContext, tenant: str, n: int) -> int:
    record(ctx, "start", tenant=tenant)
    time.sleep(0.15)
    record(ctx, "end", tenant=tenant)
    return n


@app.job
def plain_work(ctx: JobContext, n: int, duration_ms: int = 0) -> int:
    record(ctx, "start")
    time.sleep(duration_ms / 1000)
    record(ctx, "end")
    return n


@app.job(unique="join", retries=2)
def killable_work(ctx: JobContext, key: str) -> dict[str, Any]:
    record(ctx, "start")
    if ctx.attempt == 1:
        time.sleep(60)  # the test kills this process here
    record(ctx, "end")
    return {"key": key, "attempt": ctx.attempt}


def run_worker(concurrency: int) -> None:
    settings = {**SETTINGS, "poll_interval": float(os.environ.get("PROBE_POLL_INTERVAL", 0.05))}
    running = app.start_worker(WorkerSettings(concurrency=concurrency, **settings))  # type: ignore[arg-type]

    def stop(signum: int, frame: object) -> None:
        app.runtime.loop.call_soon_threadsafe(running.worker.request_stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running.join()
    app.close()


def run_enqueuers(mode: str, threads: int) -> None:
    app.stats()  # open the database before the race starts
    (PROBE_DIR / f"ready-{os.getpid()}").touch()
    while not (PROBE_DIR / "go").exists():
        time.sleep(0.002)
    out = PROBE_DIR / f"callers-{os.getpid()}.jsonl"
    lock = threading.Lock()

    def call() -> None:
        job = joined_work if mode == "join" else skipped_work
        handle = job.enqueue(key="k")
        line = {
            "id": handle.id,
            "joined": handle.joined,
            "state": handle.job.state.value,
            "duplicate_of": handle.duplicate_of,
        }
        with lock, out.open("a") as f:
            f.write(json.dumps({"ev": "enqueued", **line}) + "\n")
        if mode == "join":
            result = handle.result(timeout=60)
            with lock, out.open("a") as f:
                f.write(json.dumps({"ev": "result", "id": handle.id, "result": result}) + "\n")

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    app.close()


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "worker":
        run_worker(int(sys.argv[2]) if len(sys.argv) > 2 else 4)
    elif command == "enqueue":
        run_enqueuers(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command}")
