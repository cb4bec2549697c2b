"""A stop that did not end: what it is waiting on (each task of its loop, followed down the
chain of what it awaits, and underway's threads), and the cancelling of those tasks."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
import traceback
from typing import Any

#: How long to wait for the loop to describe its tasks (it may be blocked itself).
DESCRIBE_TIMEOUT_S = 5.0
#: Frames shown of each thread, innermost last.
THREAD_FRAMES = 12
#: How long cancelled tasks get to unwind (their `finally` blocks, a lifespan's exit).
UNWIND_S = 5.0


def still_running(loop: asyncio.AbstractEventLoop) -> str:
    """The await chains of the loop's tasks, and the stacks of underway's other threads."""

    async def tasks() -> str:
        current = asyncio.current_task()
        chains = [awaited_by(task) for task in asyncio.all_tasks() if task is not current]
        return "".join(chains)

    try:
        described = asyncio.run_coroutine_threadsafe(tasks(), loop).result(DESCRIBE_TIMEOUT_S)
    except TimeoutError:
        described = "(the event loop itself is blocked: see its thread below)\n"
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        name = names.get(ident, "")
        if name.startswith("underway") and ident != threading.get_ident():
            stack = "".join(traceback.format_stack(frame, limit=THREAD_FRAMES))
            described += f"Thread {name}:\n{stack}"
    return described


def awaited_by(task: asyncio.Task[Any]) -> str:
    """The task and each coroutine (or async generator) it waits on, outermost first: a
    task's own stack shows its outermost frame only."""
    lines = [f"Task {task.get_name()}:\n"]
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        frame = next(
            (
                getattr(awaitable, kind)
                for kind in ("cr_frame", "gi_frame", "ag_frame")
                if getattr(awaitable, kind, None) is not None
            ),
            None,
        )
        if frame is not None:
            code = frame.f_code
            lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}\n')
        awaitable = _next_awaited(awaitable)
    return "".join(lines)


def _next_awaited(awaitable: Any) -> Any:
    """What `awaitable` waits on, if it is a coroutine, generator or async generator (the
    `asend` of an async generator hides its generator but for the garbage collector)."""
    for kind in ("cr_await", "gi_yieldfrom", "ag_await"):
        inner = getattr(awaitable, kind, None)
        if inner is not None:
            return inner
    if type(awaitable).__name__ == "async_generator_asend":
        return next((r for r in gc.get_referents(awaitable) if hasattr(r, "ag_frame")), None)
    return None


def cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel every task of the loop and wait up to `UNWIND_S` for them to end, as
    `asyncio.run` does before it closes its loop: a task left pending on a stopped loop would
    run its `finally` blocks later, when the garbage collector finds it, in whatever thread."""

    async def cancel() -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=UNWIND_S)

    with contextlib.suppress(TimeoutError):
        asyncio.run_coroutine_threadsafe(cancel(), loop).result(UNWIND_S + DESCRIBE_TIMEOUT_S)
