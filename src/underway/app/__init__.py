"""The app layer: `App` and what it hands out (job handles, in-process workers)."""

from .application import App
from .handle import JobHandle
from .registry import JobRef
from .running_worker import RunningWorker

__all__ = ["App", "JobHandle", "JobRef", "RunningWorker"]
