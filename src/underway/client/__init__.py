"""A client for an underway server's HTTP API: `Client` for sync code, `AsyncClient` for asyncio.

It raises the library's own errors (`ValidationError`, `JobNotFound`, `JobFailed`, ...), and
`NotAuthorized`, `ServerUnreachable` or `ApiError` for what has no counterpart in the library.
"""

from .aio import AsyncClient, AsyncJobHandle
from .errors import ApiError, NotAuthorized, ServerUnreachable
from .protocol import JobInfo
from .sync import Client, JobHandle

__all__ = [
    "ApiError",
    "AsyncClient",
    "AsyncJobHandle",
    "Client",
    "JobHandle",
    "JobInfo",
    "NotAuthorized",
    "ServerUnreachable",
]
