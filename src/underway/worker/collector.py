"""The garbage collector's pace while jobs run: each job allocates a few dozen short-lived
objects (its execution, context, coroutines, outcome), so the collector's default (a young
collection every 700 allocations, each also walking what survived the last ones) spends a
tenth of a no-op drain's time on objects that reference counting frees anyway."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

#: Allocations between young collections while jobs run (Python's default is 700).
YOUNG_THRESHOLD = 10_000


def pace_for_worker_process() -> None:
    """For a process whose work is running jobs (`underway worker`), once its code is loaded:
    what is alive now (modules, the app, its jobs) is set apart from the collector for
    good, so that no collection walks it again, and young collections come less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


class _DrainPacing:
    """The thresholds to restore once the last of the drains running at once ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._before = gc.get_threshold()

    @contextlib.contextmanager
    def fewer_collections(self) -> Iterator[None]:
        """Young collections less often while inside (a drain in a test's process), then
        the thresholds as they were once the last drain inside ends."""
        with self._lock:
            if self._inside == 0:
                self._before = young, middle, old = gc.get_threshold()
                if young:  # 0 turns automatic collection off: leave it so
                    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    gc.set_threshold(*self._before)


fewer_collections = _DrainPacing().fewer_collections
