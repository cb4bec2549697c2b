"""Integrations' scopes around an enqueue (`registry.EnqueueScope`), entered in the caller's
thread and context so that what they record belongs to the caller's trace."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from .enqueueing import EnqueueRequest
from .registry import EnqueueScope


def enqueue_scope(
    scopes: list[EnqueueScope], request: EnqueueRequest
) -> contextlib.AbstractContextManager[EnqueueRequest]:
    """The request inside the scopes, its row as they amend it (nothing to enter: none)."""
    return contextlib.nullcontext(request) if not scopes else _amended(scopes, request)


@contextlib.contextmanager
def _amended(scopes: list[EnqueueScope], request: EnqueueRequest) -> Iterator[EnqueueRequest]:
    with contextlib.ExitStack() as stack:
        new = request.new
        for scope in scopes:
            new = stack.enter_context(scope(new))
        yield dataclasses.replace(request, new=new)
