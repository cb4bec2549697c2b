from __future__ import annotations

from collections.abc import Iterator

import pytest

from .receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started receiver, stopped at the end."""
    server = Receiver()
    server.start()
    yield server
    server.stop()
