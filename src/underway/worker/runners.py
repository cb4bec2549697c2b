"""JobRunners: the tasks a worker runs its executions in, each task from job to job."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from .execution import JobExecution

log = logging.getLogger("underway.worker")
#: How long stopping waits for the runners of jobs that ignored being stopped; their leases
#: are given up and their jobs handed back by then, so they are left to run on.
LEAVE_STUBBORN_AFTER_S = 1.0


class InOwnContext:
    """Awaits a coroutine with every step run in `context`, as a task of its own would run it,
    but inside the awaiting task: context variables the coroutine sets stay in `context`."""

    __slots__ = ("_context", "_coro")

    def __init__(self, coro: Coroutine[Any, Any, Any], context: contextvars.Context) -> None:
        self._coro = coro
        self._context = context

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, run = self._coro, self._context.run
        sent: Any = None
        error: BaseException | None = None
        while True:
            try:
                waiting_on = run(coro.send, sent) if error is None else run(coro.throw, error)
            except StopIteration as returned:
                return returned.value
            try:
                sent, error = (yield waiting_on), None
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as thrown:  # a cancel, passed on to the coroutine
                sent, error = None, thrown


class JobRunners:
    """Tasks that run executions one after another, each in a context of its own as if in a
    task of its own: a task lives on from job to job, cheaper than a task per job. A runner
    is free once its job's code has returned and its outcome is handed to the writer, so
    there are no more runners than jobs held at once."""

    def __init__(self, finished: Callable[[JobExecution], None]) -> None:
        #: Told of each execution its runner ended (not of those its outcome's write ends).
        self._finished = finished
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: list[asyncio.Future[JobExecution]] = []
        #: Runners `stop` left running: their jobs' ends are no longer the worker's business.
        self._left: set[asyncio.Task[None]] = set()

    def run(self, execution: JobExecution) -> None:
        """Run the execution in an idle runner, or in a new one if none is idle."""
        while self._idle:
            waiting = self._idle.pop()
            if not waiting.done():
                waiting.set_result(execution)
                return
        task = asyncio.create_task(self._runner(execution), name="underway-job-runner")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _runner(self, execution: JobExecution) -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        while True:
            execution.task = task
            ended = True
            try:
                ended = await InOwnContext(execution.run(), contextvars.copy_context())
            except Exception:
                log.exception("job %s: worker error", execution.job.id)
            finally:
                execution.task = None
                if ended and task not in self._left:
                    self._finished(execution)
            waiting: asyncio.Future[JobExecution] = loop.create_future()
            self._idle.append(waiting)
            execution = await waiting

    async def stop(self) -> None:
        """End the runners: idle ones, and those of jobs that ignored being stopped, which
        are left running if they ignore this last cancel too (a job that catches every
        CancelledError would otherwise hold the worker's stop forever)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, self._left = await asyncio.wait(tasks, timeout=LEAVE_STUBBORN_AFTER_S)
            if self._left:
                log.error("%d job(s) ignore every cancel: left running", len(self._left))
        self._idle.clear()
