"""How long an idle worker waits before it claims again."""

from __future__ import annotations

from ..backends.base import Backend

#: The least wait for a rate key's next start, so that clocks a little apart (the database's
#: and this host's) cannot make a worker claim in a busy loop.
MIN_SLOT_WAIT_S = 0.01
#: Claim this long after a key's next start may be made, so that it has been.
SLOT_SLACK_S = 0.002


def idle_wait(backend: Backend, poll_interval: float) -> float:
    """The poll interval, or less when a rate key that the backend's claims found at its
    limit may start again sooner: its jobs start on time, not up to a poll late."""
    slot = backend.next_slot_in()
    if slot is None:
        return poll_interval
    return min(poll_interval, max(MIN_SLOT_WAIT_S, slot + SLOT_SLACK_S))
