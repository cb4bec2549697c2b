"""The client's logic without I/O: what to send, what an answer means, when to poll again.

Each operation is a generator that yields `Call` (send this request) and `Sleep` steps and
returns its outcome; `Client` and `AsyncClient` only carry the steps out, so they share it all.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from ..errors import (
    DuplicateJobError,
    InvalidStateError,
    JobCancelled,
    JobFailed,
    JobNotFound,
    JobSkipped,
    StorageUnavailable,
    UnknownJobError,
    ValidationError,
    WaitTimeout,
)
from ..models import JobState
from .errors import ApiError, NotAuthorized

T = TypeVar("T")
FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 2.0
MAX_PER_PAGE = 200
#: Answers a proxy or a restarting server gives for a while; a wait polls on through them.
TRANSIENT = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Call:
    """Send this request; the driver sends back the response or throws its transport error."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Call | Sleep
Steps = Generator[Step, httpx.Response | None, T]


@dataclass(frozen=True)
class JobInfo:
    """A job as the server last described it."""

    id: str
    name: str
    state: JobState
    queue: str
    priority: int
    args: dict[str, Any]
    progress: float
    message: str | None
    attempt: int
    max_attempts: int
    error_type: str | None
    error_message: str | None
    traceback: str
    monitor: str
    output: str
    joined: bool


def job_info(body: Mapping[str, Any]) -> JobInfo:
    error = body.get("error") or {}
    return JobInfo(
        id=body["id"],
        name=body["name"],
        state=JobState(body["state"]),
        queue=body["queue"],
        priority=body["priority"],
        args=body["args"],
        progress=body["progress"],
        message=body.get("message"),
        attempt=body["attempt"],
        max_attempts=body["maxAttempts"],
        error_type=error.get("code"),
        error_message=error.get("message"),
        traceback=error.get("traceback", ""),
        monitor=body["links"]["self"],
        output=body["links"]["output"],
        joined=body.get("joined", False),
    )


def job_path(job_id: str, suffix: str = "") -> str:
    return f"/api/jobs/{quote(job_id, safe='')}{suffix}"


def send(call: Call) -> Steps[httpx.Response]:
    response = yield call
    assert response is not None, "the driver sends back a response for every Call"
    return response


def enqueue(
    name: str,
    args: Mapping[str, Any],
    *,
    idempotency_key: str | None,
    delay: float | None,
    queue: str | None,
    priority: int | None,
) -> Steps[JobInfo]:
    options = {"delay": delay, "queue": queue, "priority": priority}
    params = {k: v for k, v in options.items() if v is not None}
    headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
    call = Call("POST", job_path(name), params, dict(args), headers)
    response = yield from send(call)
    check(response, job_name=name)
    return job_info(response.json())


def get(job_id: str) -> Steps[JobInfo]:
    response = yield from send(Call("GET", job_path(job_id), {"redirect": "false"}))
    check(response, job_id=job_id)
    return job_info(response.json())


def cancel(job_id: str) -> Steps[JobInfo]:
    response = yield from send(Call("POST", job_path(job_id, "/cancel")))
    check(response, job_id=job_id)
    return job_info(response.json())


def retry(job_id: str) -> Steps[JobInfo]:
    response = yield from send(Call("POST", job_path(job_id, "/retry")))
    check(response, job_id=job_id)
    return job_info(response.json())


def list_jobs(
    state: JobState | str | list[JobState | str] | None, name: str | None, limit: int
) -> Steps[list[JobInfo]]:
    """Newest first, following `nextLink` until `limit` jobs or the last page."""
    states = [] if state is None else [state] if isinstance(state, str) else state
    params: dict[str, Any] = {"per_page": max(1, min(limit, MAX_PER_PAGE))}
    if states:
        params["state"] = [JobState(s).value for s in states]
    if name is not None:
        params["name"] = name
    found: list[JobInfo] = []
    call: Call | None = Call("GET", "/api/jobs", params)
    while call is not None and len(found) < limit:
        response = yield from send(call)
        check(response)
        page = response.json()
        found.extend(job_info(item) for item in page["items"])
        link = page.get("nextLink")
        call = None if link is None else Call("GET", link)
    return found[:limit]


@dataclass(frozen=True)
class Finished:
    info: JobInfo
    value: Any


@dataclass(frozen=True)
class Pending:
    info: JobInfo | None
    retry_after: float


def wait(job_id: str, monitor: str, timeout: float | None) -> Steps[Finished]:
    """Poll the job monitor until the job ends, sleeping `Retry-After` between polls and
    backing off while the server cannot be reached; with the result if it completed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    failures = 0
    state = "unknown"
    while True:
        try:
            polled = yield from _poll(job_id, monitor)
        except httpx.TransportError:
            polled = Pending(None, min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2**failures))
            failures += 1
        else:
            failures = 0
        if isinstance(polled, Finished):
            return polled
        if polled.info is not None:
            state = polled.info.state.value
        pause = polled.retry_after
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(job_id, timeout or 0.0, state)
            pause = min(pause, left)
        yield Sleep(pause)


def _poll(job_id: str, monitor: str) -> Steps[Finished | Pending]:
    response = yield from send(Call("GET", monitor))
    if response.status_code in TRANSIENT:
        return Pending(None, retry_after(response))
    check(response, job_id=job_id)
    info = job_info(response.json())
    if info.state.is_active:
        return Pending(info, retry_after(response))
    if info.state is not JobState.COMPLETED:
        return Finished(info, None)
    output = yield from send(Call("GET", response.headers.get("location", info.output)))
    if output.status_code in TRANSIENT:
        return Pending(info, retry_after(output))
    check(output, job_id=job_id)
    return Finished(info, output.json())


def retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def raise_outcome(info: JobInfo) -> NoReturn:
    """Raise why a job that ended did not complete."""
    if info.state is JobState.FAILED:
        raise JobFailed(
            info.id, info.error_type or "Error", info.error_message or "", info.traceback
        )
    if info.state is JobState.CANCELLED:
        raise JobCancelled(info.id)
    raise JobSkipped(info.id, info.error_message or "a duplicate was active")


def outcome(finished: Finished, result_type: Any) -> Any:
    """The result as `result_type` (validated by Pydantic; as it is without one), or the error
    that says why the job did not complete."""
    if finished.info.state is not JobState.COMPLETED:
        raise_outcome(finished.info)
    if result_type is None:
        return finished.value
    return TypeAdapter(result_type).validate_python(finished.value)


def check(
    response: httpx.Response, *, job_id: str | None = None, job_name: str | None = None
) -> None:
    """Raise the library's error for an error answer; return for a success."""
    status = response.status_code
    if status < 400:
        return
    code, message, details, active = _error_body(response)
    if status in (401, 403):
        raise NotAuthorized(status, code, message)
    if status == 422:
        raise ValidationError(job_name or "", [_field_error(d) for d in details])
    if code == "UnknownJob":
        raise UnknownJobError(job_name or "")
    if code == "JobNotFound":
        raise JobNotFound(job_id or "")
    if code == "DuplicateActive":
        raise DuplicateJobError(job_name or "", active)
    if code == "InvalidState":
        raise InvalidStateError(message)
    if code == "StorageUnavailable":
        raise StorageUnavailable(message)
    raise ApiError(status, code, message)


def _error_body(response: httpx.Response) -> tuple[str, str, list[dict[str, Any]], str]:
    try:
        body = response.json()
        error = body["error"]
        active = (body.get("job") or {}).get("id", "")
        return str(error["code"]), str(error["message"]), list(error.get("details", [])), active
    except (ValueError, KeyError, TypeError):
        return "HttpError", response.text[:200] or response.reason_phrase, [], ""


def _field_error(detail: Mapping[str, Any]) -> dict[str, Any]:
    """An API field error in the shape `ValidationError.errors` has: loc, msg, type."""
    return {
        "loc": tuple(detail.get("loc", ())),
        "msg": detail.get("message", "invalid value"),
        "type": detail.get("code", "invalid"),
    }
