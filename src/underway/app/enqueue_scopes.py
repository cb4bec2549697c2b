"""Integrations' scopes around an enqueue (`registry.EnqueueScope`), entered in the caller's
thread and context so that what they record belongs to the caller's trace."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..models import NewJob
from .registry import EnqueueScope

if TYPE_CHECKING:
    from .enqueueing import EnqueueRequest


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


def amended_rows(scopes: list[EnqueueScope], rows: list[NewJob]) -> list[NewJob]:
    """Many rows (`enqueue_many`) as the scopes amend them, each row's scopes entered and left
    on their own, so that each row's record is a sibling under the caller's, not the child
    of the row before it."""
    if not scopes:
        return rows
    amended = []
    for new in rows:
        with contextlib.ExitStack() as stack:
            for scope in scopes:
                new = stack.enter_context(scope(new))
        amended.append(new)
    return amended
