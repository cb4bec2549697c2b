"""What the type checker must say about job objects; checked by mypy --strict in `make lint`.

Each `assert_type` must hold, and each `# type: ignore[...]` marks a call that must stay an
error: with `warn_unused_ignores`, mypy fails the check when one stops being an error.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, assert_type

from underway import App, JobContext, JobHandle, Step, WorkflowHandle, chain, group
from underway.app.job_function import AsyncContextJob, AsyncJob, SyncJob

app = App("sqlite:///typing-never-opened.db")


@app.job
def add(a: int, b: int) -> int:
    return a + b


@app.job(retries=3, timeout="10m")
async def export_report(ctx: JobContext, month: str, tenant: int = 0) -> dict[str, str]:
    return {"month": month}


@app.job()
async def send(to: str, delay: float, queue: str, priority: int, connection: str) -> None:
    """Parameters named like enqueue options are the job's own."""


def typed_enqueue() -> None:
    plain: SyncJob[[int, int], int] = add
    with_context: AsyncContextJob[[str, int], dict[str, str]] = export_report
    asynchronous: AsyncJob[[str, float, str, int, str], None] = send
    wrong: SyncJob[[int, int], str] = add  # type: ignore[assignment]
    del plain, with_context, asynchronous, wrong

    assert_type(add.enqueue(a=1, b=2), JobHandle[int])
    assert_type(add.enqueue(1, 2), JobHandle[int])
    assert_type(export_report.enqueue(month="2026-10"), JobHandle[dict[str, str]])
    assert_type(add.enqueue(a=1, b=2).result(timeout=5), int)
    assert_type(add.options(delay=60, queue="fast", priority=5).enqueue(a=1, b=2), JobHandle[int])
    assert_type(add.schedule(timedelta(minutes=5), a=1, b=2), JobHandle[int])
    assert_type(add.schedule(datetime(2030, 1, 1, tzinfo=UTC), a=1, b=2), JobHandle[int])
    assert_type(add.run(a=1, b=2), int)
    assert_type(add.handle("01a24230-58ed-7728-8ae4-dd7e0de81725"), JobHandle[int])
    assert_type(app.handle("01a24230-58ed-7728-8ae4-dd7e0de81725"), JobHandle[Any])
    assert_type(add.enqueue_many([add.arguments(a=1, b=2)]), list[JobHandle[int]])
    send.enqueue(to="x", delay=1.5, queue="q", priority=1, connection="c")
    send.options(delay=10, queue="email").enqueue("x", 1.5, "q", 1, "c")

    # Calling the job object calls the function.
    assert_type(add(1, 2), int)
    coroutine: Coroutine[Any, Any, None] = send("x", 1.0, "q", 1, "c")
    coroutine.close()
    not_awaitable: int = send("x", 1.0, "q", 1, "c")  # type: ignore[assignment]
    del not_awaitable

    # By name, for dynamic callers: arguments as one mapping, options as keywords.
    assert_type(app.enqueue("add", {"a": 1, "b": 2}, delay=5), JobHandle[Any])


async def typed_async() -> None:
    assert_type(await add.enqueue_async(a=1, b=2), JobHandle[int])
    assert_type(await add.run_async(a=1, b=2), int)
    assert_type(await export_report.schedule_async(60, month="m"), JobHandle[dict[str, str]])
    assert_type(await add.enqueue_many_async([{"a": 1, "b": 2}]), list[JobHandle[int]])
    assert_type(await (await add.enqueue_async(1, 2)).wait(), int)


def wrong_calls() -> None:
    add.enqueue(a="x", b=2)  # type: ignore[arg-type]
    add.enqueue(a=1, b=2, wrong=1)  # type: ignore[call-arg]
    add.enqueue(a=1)  # type: ignore[call-arg]
    add.options(delay=60).enqueue(a=1, b=2, delay=60)  # type: ignore[call-arg]
    add.options(dely=60)  # type: ignore[call-arg]
    add.run(1, "2")  # type: ignore[arg-type]
    add.enqueue_many([add.arguments(a=1, c=2)])  # type: ignore[call-arg]
    export_report.enqueue(month=10)  # type: ignore[arg-type]
    export_report.enqueue(ctx=None, month="m")  # type: ignore[call-arg]
    handle: JobHandle[str] = add.enqueue(a=1, b=2)  # type: ignore[assignment]
    app.enqueue("add", a=1)  # type: ignore[call-arg]
    del handle


def typed_workflows() -> None:
    """A step is typed by its job's result; `receiving()` takes the first parameter out of
    the call, so that what follows a step is checked against the other parameters."""
    step = add.step(1, 2)
    assert_type(step, Step[int])

    @app.job
    def total(counts: list[int], scale: int) -> int:
        return sum(counts) * scale

    fan_in = total.receiving().step(scale=10)
    assert_type(fan_in, Step[int])
    assert_type(app.start(chain(group(step, add.step(3, 4)), fan_in)), WorkflowHandle)
    total.receiving().step(counts=[1], scale=1)  # type: ignore[call-arg]
    total.receiving().step(scale="ten")  # type: ignore[arg-type]
    add.step("one", 2)  # type: ignore[arg-type]
    handle = total.receiving().enqueue([step_handle()], 2)
    assert_type(handle, JobHandle[int])


def step_handle() -> JobHandle[int]:
    return add.enqueue(1, 2)
