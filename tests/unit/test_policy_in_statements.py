"""The statements that write policy's rules out in SQL agree with policy."""

from __future__ import annotations

import pytest

from underway.backends import policy
from underway.backends.postgres import enqueue as postgres_enqueue
from underway.backends.postgres import recurring as postgres_recurring
from underway.backends.sqlite import enqueue as sqlite_enqueue
from underway.backends.sqlite import recurring as sqlite_recurring

ACTIVE_LOOKUPS = {
    "postgres ACTIVE_DUPLICATE": postgres_enqueue.ACTIVE_DUPLICATE,
    "postgres ACTIVE_RUN": postgres_recurring.ACTIVE_RUN,
    "sqlite ACTIVE_DUPLICATE": sqlite_enqueue.ACTIVE_DUPLICATE,
    "sqlite ACTIVE_RUN": sqlite_recurring.ACTIVE_RUN,
}


@pytest.mark.parametrize("name", ACTIVE_LOOKUPS)
def test_active_lookups_name_exactly_the_active_states(name: str) -> None:
    assert f"state IN {policy.ACTIVE}" in ACTIVE_LOOKUPS[name]
