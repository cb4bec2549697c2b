"""OutcomeWriter: records attempt outcomes in group commits, never dropping one on errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from ..backends.base import Backend
from ..errors import StorageUnavailable
from ..faults import crash_point
from ..log_throttling import ThrottledLog
from ..models import JobError, Outcome
from ..stopping import cancel_and_wait

log = logging.getLogger("underway.worker")
MAX_BACKOFF_S = 30.0

#: Told how an outcome's write ended: True if recorded, False if the lease was lost, None if
#: the writer stopped before the outcome was saved.
Recorded = Callable[[bool | None], None]


class OutcomeWriter:
    """Gathers outcomes while the previous batch commits, then writes them in one transaction."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._queue: list[tuple[Outcome, Recorded]] = []
        #: The batch being written.
        self._writing: list[tuple[Outcome, Recorded]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._errors = ThrottledLog(log)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="underway-outcomes")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        unsaved, self._writing, self._queue = self._writing + self._queue, [], []
        self._tell(unsaved, [None] * len(unsaved))

    def write(self, outcome: Outcome, recorded: Recorded) -> None:
        """Record one outcome; `recorded` is called with whether this worker still held the
        lease once its batch commits (a call, not a future: no task wakes for it)."""
        self._queue.append((outcome, recorded))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._writing, self._queue = self._queue, []
            if self._writing:
                held = await self._write_with_retry([outcome for outcome, _ in self._writing])
                written, self._writing = self._writing, []
                self._tell(written, held)

    def _tell(self, batch: list[tuple[Outcome, Recorded]], held: Sequence[bool | None]) -> None:
        for (outcome, recorded), ok in zip(batch, held, strict=True):
            try:
                recorded(ok)
            except Exception:
                log.exception("job %s: error after its outcome was written", outcome.lease.job_id)

    async def _write_with_retry(self, outcomes: list[Outcome]) -> Sequence[bool | None]:
        delay = 0.05
        while True:
            try:
                crash_point("before_finish")
                held = await self._backend.finish(outcomes)
                crash_point("after_finish")
                return held
            except StorageUnavailable as exc:
                self._errors.error("finish", "cannot record job outcomes, retrying: %s", exc)
                await asyncio.sleep(delay)
                delay = min(MAX_BACKOFF_S, delay * 2)
            except Exception as exc:
                return await self._write_apart(outcomes, exc)

    async def _write_apart(self, outcomes: list[Outcome], exc: Exception) -> list[bool | None]:
        """After an error that retrying will not cure: each outcome alone, so that one the
        database refuses (a result PostgreSQL cannot hold) fails only its own job, which is
        then recorded as failed with the cause. An outcome even that cannot record stays
        unsaved: its job is taken back by the sweeper and runs again."""
        if len(outcomes) > 1:
            return [held for outcome in outcomes for held in await self._write_alone(outcome)]
        outcome = outcomes[0]
        log.error(
            "job %s: its outcome could not be stored: %r", outcome.lease.job_id, exc, exc_info=exc
        )
        if outcome.kind == "failed" and outcome.error and outcome.error.type == UNSTORABLE:
            return [None]
        return await self._write_alone(unstorable(outcome, exc))

    async def _write_alone(self, outcome: Outcome) -> list[bool | None]:
        return list(await self._write_with_retry([outcome]))


#: The error type of a job failed because the database refused its outcome.
UNSTORABLE = "UnstorableOutcome"


def unstorable(outcome: Outcome, exc: Exception) -> Outcome:
    """The failed outcome recorded instead of one the database refused: a permanent error,
    so no retry, with the cause and the fix in its message."""
    error = JobError(
        type=UNSTORABLE,
        message=(
            f"the database refused this attempt's {outcome.kind} outcome "
            f"({type(exc).__name__}: {exc}); return a result and raise errors whose text "
            "the database can store (PostgreSQL's cannot hold the character U+0000)"
        ),
        attempt=outcome.lease.attempt,
    )
    return Outcome(outcome.lease, "failed", error=error)


def claim_limits(concurrency: int, claims_overlap_writes: bool) -> tuple[int, int]:
    """How many jobs one claim takes, and how many may be claimed and unrecorded at once.

    Where claims overlap outcome writes, a claim takes at most half the slots: the next claim
    then runs beside the previous batch's outcome write instead of after it. A job's slot is
    free once its code returns; while outcomes are being written the worker may hold one more
    claim batch, so that the next claim need not wait for the write. A worker of concurrency 1
    runs one job at a time from claim to recorded outcome, so a crash re-runs at most that job.
    """
    half = (concurrency + 1) // 2
    batch = half if claims_overlap_writes else concurrency
    return batch, concurrency + (batch if concurrency > 1 else 0)
