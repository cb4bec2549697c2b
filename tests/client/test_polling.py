"""The client's steps, driven by hand: what a wait sleeps between polls and when it gives up,
how a listing pages."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from underway.client.protocol import Call, Sleep, Steps, list_jobs, wait
from underway.errors import WaitTimeout

MONITOR = "http://api/api/jobs/j1"
OUTPUT = f"{MONITOR}/output"


def body(state: str) -> dict[str, Any]:
    return {
        "id": "j1",
        "name": "add",
        "state": state,
        "queue": "default",
        "priority": 0,
        "args": {},
        "progress": 0.0,
        "message": None,
        "attempt": 1,
        "maxAttempts": 3,
        "error": None,
        "links": {"self": MONITOR, "output": OUTPUT},
    }


def running(retry_after: str = "1") -> httpx.Response:
    return httpx.Response(200, json=body("running"), headers={"Retry-After": retry_after})


def completed() -> httpx.Response:
    return httpx.Response(303, json=body("completed"), headers={"Location": OUTPUT})


def drive(
    steps: Steps[Any], replies: list[httpx.Response | Exception], sleep: bool = False
) -> list[Any]:
    """Answer each Call with the next reply (sleeping only if asked); the steps taken, and the
    outcome last."""
    taken: list[Any] = []
    step = next(steps)
    try:
        while True:
            taken.append(step)
            if isinstance(step, Sleep):
                time.sleep(step.seconds if sleep else 0)
                step = steps.send(None)
                continue
            reply = replies.pop(0)
            step = steps.throw(reply) if isinstance(reply, Exception) else steps.send(reply)
    except StopIteration as done:
        taken.append(done.value)
    return taken


def test_the_wait_sleeps_what_retry_after_says_then_follows_the_303() -> None:
    taken = drive(
        wait("j1", MONITOR, None), [running("3"), completed(), httpx.Response(200, json=42)]
    )

    assert taken[:4] == [
        Call("GET", MONITOR),
        Sleep(3.0),
        Call("GET", MONITOR),
        Call("GET", OUTPUT),
    ]
    assert taken[4].value == 42


def test_unreachable_server_and_503_are_waited_out() -> None:
    refused = httpx.ConnectError("refused")
    unavailable = httpx.Response(503, json={"error": {}}, headers={"Retry-After": "5"})
    replies: list[httpx.Response | Exception] = [refused, refused, unavailable, refused]
    replies += [completed(), httpx.Response(200, json=1)]

    taken = drive(wait("j1", MONITOR, None), replies)

    assert [s.seconds for s in taken if isinstance(s, Sleep)] == [0.1, 0.2, 5.0, 0.1]
    assert taken[-1].value == 1


def test_the_last_sleep_ends_at_the_deadline_and_then_the_wait_gives_up() -> None:
    started = time.monotonic()

    with pytest.raises(WaitTimeout, match=r"still running after waiting 0\.2 s"):
        drive(wait("j1", MONITOR, 0.2), [running("30"), running("30")], sleep=True)

    assert time.monotonic() - started < 1


def test_a_long_listing_follows_next_link_until_the_limit() -> None:
    def page(ids: range, next_link: str | None) -> httpx.Response:
        items = [{**body("completed"), "id": f"j{i}"} for i in ids]
        return httpx.Response(200, json={"items": items, "nextLink": next_link})

    later = "http://api/api/jobs?page=2&per_page=200"
    taken = drive(
        list_jobs("completed", "add", 250), [page(range(200), later), page(range(200, 400), None)]
    )

    first = Call("GET", "/api/jobs", {"per_page": 200, "state": ["completed"], "name": "add"})
    assert taken[:2] == [first, Call("GET", later)]
    assert [job.id for job in taken[2]] == [f"j{i}" for i in range(250)]
