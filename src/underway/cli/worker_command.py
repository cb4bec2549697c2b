"""Running a worker in the foreground: logs on stderr, graceful shutdown on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from ..app import App, RunningWorker
from ..config import WorkerSettings
from ..errors import StorageUnavailable
from ..worker import MAX_BACKOFF_S
from ..worker.collector import pace_for_worker_process
from .common_options import LogFormat
from .json_logs import JsonLogFormatter
from .loading import CommandError

log = logging.getLogger("underway.cli")
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_LEVELS = ("debug", "info", "warning", "error")
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
JOB_THREAD_JOIN_S = 1.0


def configure_logging(level: str, log_format: LogFormat = LogFormat.TEXT) -> None:
    """Log lines on stderr, so stdout stays free for output: timestamped text, or one JSON
    object per line. A second call replaces the handler of the first instead of adding one."""
    if level.lower() not in LOG_LEVELS:
        raise CommandError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    for installed in [h for h in root.handlers if getattr(h, "underway_cli", False)]:
        root.removeHandler(installed)
    handler.underway_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


class ShutdownSignals:
    """The first SIGINT/SIGTERM asks the worker to drain; a second one exits at once."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.received = 0
        #: Set by the first signal (the worker may not have started yet).
        self.stopping = threading.Event()
        self._stop: Any = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in SHUTDOWN_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def attach(self, app: App, running: RunningWorker) -> None:
        """Route stop requests to this worker (thread-safely, on the app's loop)."""
        loop = app.runtime.loop
        self._stop = lambda: loop.call_soon_threadsafe(running.worker.request_stop)
        if self.received:
            self._stop()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        self.stopping.set()
        name = signal.Signals(signum).name
        if self.received > 1:
            log.warning("%s again: exiting now; running jobs return after the stall timeout", name)
            logging.shutdown()
            os._exit(128 + signum)
        log.info(
            "%s: no new jobs; running ones get %g s to finish (send again to exit now)",
            name,
            self.grace,
        )
        if self._stop is not None:
            self._stop()


def run_worker(app: App, settings: WorkerSettings) -> None:
    """Run until a signal stops the worker and its jobs are finished or handed back."""
    pace_for_worker_process()
    signals = ShutdownSignals(settings.shutdown_grace)
    signals.install()
    running = None
    try:
        running = _start_when_reachable(app, settings, signals)
        if running is not None:
            signals.attach(app, running)
            running.join()
    finally:
        app.close()
        signals.restore()
    if running is not None:
        _exit_if_job_threads_hang(running.worker.exit_code)


def _start_when_reachable(
    app: App, settings: WorkerSettings, signals: ShutdownSignals
) -> RunningWorker | None:
    """Start the worker, waiting with capped backoff while the database cannot be reached
    (down, or its connections killed as the worker starts); None if a signal came first."""
    delay = settings.poll_interval
    while True:
        try:
            return app.start_worker(settings)
        except StorageUnavailable as exc:
            log.error("cannot start the worker, retrying in %g s: %s", delay, exc)
        if signals.stopping.wait(delay):
            return None
        delay = min(MAX_BACKOFF_S, delay * 2)


def _exit_if_job_threads_hang(status: int) -> None:
    """A sync job that ignores cancellation would block interpreter exit; its job is requeued."""
    deadline = time.monotonic() + JOB_THREAD_JOIN_S
    for thread in threading.enumerate():
        if thread.name.startswith("underway-job"):
            thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t for t in threading.enumerate() if t.name.startswith("underway-job")]
    if stuck:
        log.warning("%d job threads did not return; exiting without them", len(stuck))
        logging.shutdown()
        sys.stdout.flush()
        os._exit(status)
    if status:
        raise SystemExit(status)
