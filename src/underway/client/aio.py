"""`AsyncClient`: the HTTP API from asyncio code, on an `httpx.AsyncClient`; the twin of
`Client`, with the same steps from `protocol` carried out by awaiting."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

import httpx

from ..models import JobState
from . import protocol
from .errors import ServerUnreachable
from .protocol import JobInfo, Steps

R = TypeVar("R")
T = TypeVar("T")
DEFAULT_TIMEOUT_S = 10.0


class AsyncClient:
    """A client for an underway server's HTTP API; close it, or use it as a context manager."""

    def __init__(
        self, base_url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @overload
    async def enqueue(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        result_type: type[R],
        idempotency_key: str | None = None,
        delay: float | None = None,
        queue: str | None = None,
        priority: int | None = None,
    ) -> AsyncJobHandle[R]: ...

    @overload
    async def enqueue(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        result_type: None = None,
        idempotency_key: str | None = None,
        delay: float | None = None,
        queue: str | None = None,
        priority: int | None = None,
    ) -> AsyncJobHandle[Any]: ...

    async def enqueue(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        result_type: Any = None,
        idempotency_key: str | None = None,
        delay: float | None = None,
        queue: str | None = None,
        priority: int | None = None,
    ) -> AsyncJobHandle[Any]:
        """Submit the job `name` with `args`; its handle (the same job again for a repeated
        `idempotency_key`)."""
        steps = protocol.enqueue(
            name,
            args or {},
            idempotency_key=idempotency_key,
            delay=delay,
            queue=queue,
            priority=priority,
        )
        return AsyncJobHandle(self, await self.run(steps), result_type)

    async def get(self, job_id: str) -> AsyncJobHandle[Any]:
        """A handle on an existing job; `JobNotFound` if there is none."""
        return AsyncJobHandle(self, await self.run(protocol.get(job_id)), None)

    async def list(
        self,
        state: JobState | str | builtins.list[JobState | str] | None = None,
        name: str | None = None,
        limit: int = 50,
    ) -> builtins.list[JobInfo]:
        """Jobs, newest first, in the given state(s) and of the given name."""
        return await self.run(protocol.list_jobs(state, name, limit))

    async def cancel(self, job_id: str) -> JobInfo:
        """Cancel a waiting job, or ask a running one to stop."""
        return await self.run(protocol.cancel(job_id))

    async def retry(self, job_id: str) -> AsyncJobHandle[Any]:
        """Run a failed or cancelled job again."""
        return AsyncJobHandle(self, await self.run(protocol.retry(job_id)), None)

    async def run(self, steps: Steps[T]) -> T:
        """Carry out the steps of one operation: send its requests, sleep its pauses."""
        step = next(steps)
        while True:
            try:
                if isinstance(step, protocol.Sleep):
                    await asyncio.sleep(step.seconds)
                    step = steps.send(None)
                    continue
                try:
                    response = await self._http.request(
                        step.method,
                        step.url,
                        params=step.params,
                        json=step.json,
                        headers=step.headers,
                    )
                except httpx.TransportError as error:
                    step = steps.throw(error)
                else:
                    step = steps.send(response)
            except StopIteration as done:
                result: T = done.value
                return result
            except httpx.TransportError as error:
                raise ServerUnreachable(f"cannot reach {self._http.base_url}: {error}") from error


class AsyncJobHandle(Generic[R]):
    """A job on the server: its id, its state as last seen, and its result once it ends."""

    def __init__(self, client: AsyncClient, info: JobInfo, result_type: Any) -> None:
        self._client = client
        self.info = info
        self._result_type = result_type

    def __repr__(self) -> str:
        return f"<AsyncJobHandle {self.info.name} {self.id} {self.state.value}>"

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def state(self) -> JobState:
        """The state when last read; `refresh()` reads it again."""
        return self.info.state

    async def refresh(self) -> JobInfo:
        self.info = await self._client.run(protocol.get(self.id))
        return self.info

    async def cancel(self) -> JobInfo:
        self.info = await self._client.run(protocol.cancel(self.id))
        return self.info

    @overload
    async def wait(self, timeout: float | None = None) -> R: ...

    @overload
    async def wait(self, timeout: float | None = None, *, type: type[T]) -> T: ...

    async def wait(self, timeout: float | None = None, *, type: Any = None) -> Any:
        """Poll until the job ends (through server restarts); its result, typed, or
        `JobFailed`, `JobCancelled`, `WaitTimeout`."""
        finished = await self._client.run(protocol.wait(self.id, self.info.monitor, timeout))
        self.info = finished.info
        return protocol.outcome(finished, type or self._result_type)

    @overload
    async def result(self, timeout: float | None = None) -> R: ...

    @overload
    async def result(self, timeout: float | None = None, *, type: type[T]) -> T: ...

    async def result(self, timeout: float | None = None, *, type: Any = None) -> Any:
        """The same as `wait`, named like `JobHandle.result` of the library."""
        return await self.wait(timeout, type=type)
