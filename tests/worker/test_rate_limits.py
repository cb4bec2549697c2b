"""Rate limits with a real worker: starts per window per key stay within the limit, held jobs
wait pending (not claimed and put back), and every job runs in the end."""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from typing import Any

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import App, JobState

LIMIT, WINDOW_S = 4, 0.5
#: Start times are stored to the microsecond.
STORED_PRECISION_S = 1e-6


def most_in_any_window(starts: list[float], window_s: float) -> int:
    """The most starts that fall within any stretch of `window_s` seconds."""
    starts = sorted(starts)
    return max(
        (sum(1 for t in starts[i:] if t < first + window_s) for i, first in enumerate(starts)),
        default=0,
    )


def started_at(app: App, job_id: str) -> float:
    started = app.get(job_id).started_at
    assert started is not None
    return started.timestamp()


def test_no_window_of_any_key_holds_more_starts_than_the_limit(app: App) -> None:
    ran: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()

    @app.job(rate_limit=f"{LIMIT}/{WINDOW_S}s", rate_key="tenant")
    def sync(tenant: str, page: int) -> None:
        with lock:
            ran[tenant].append(page)

    handles = {tenant: [sync.enqueue(tenant, page) for page in range(10)] for tenant in ("a", "b")}
    app.start_worker(fast_settings(concurrency=8, poll_interval=0.05))
    for tenant, of_tenant in handles.items():
        for handle in of_tenant:
            handle.result(timeout=30)
        assert len(ran[tenant]) == 10
        # The limit counts starts at the times the claims stored; the function runs later, by
        # as long as the machine takes to hand it to a thread.
        starts = [started_at(app, handle.id) for handle in of_tenant]
        assert most_in_any_window(starts, WINDOW_S - STORED_PRECISION_S) <= LIMIT


def test_a_held_job_waits_pending_and_is_not_claimed_again_and_again(app: App) -> None:
    @app.job(rate_limit="1/hour")
    def digest(user: int) -> None: ...

    backend = app.runtime.call(app.backend())
    claim, claims = backend.claim, []

    async def counted_claim(*args: Any) -> Any:
        claims.append(await claim(*args))
        return claims[-1]

    backend.claim = counted_claim  # type: ignore[method-assign]
    first, held = digest.enqueue(1), digest.enqueue(2)
    app.start_worker(fast_settings(poll_interval=0.05))
    first.result(timeout=10)
    polls_after_first = len(claims)
    wait_until(lambda: len(claims) >= polls_after_first + 5)  # five polls that found nothing
    assert all(claimed == [] for claimed in claims[polls_after_first:])
    job = app.get(held.id)
    assert (job.state, job.attempt, job.started_at) == (JobState.PENDING, 0, None)


def test_a_held_key_starts_again_when_its_next_start_is_due_not_a_poll_later(app: App) -> None:
    @app.job(rate_limit="1/0.4s", rate_key="tenant")
    def sync(tenant: str, page: int) -> None: ...

    handles = [sync.enqueue("a", page) for page in range(3)]
    app.start_worker(fast_settings(poll_interval=30.0))
    for handle in handles:
        handle.result(timeout=10)

    started = sorted(started_at(app, handle.id) for handle in handles)
    gaps = [later - earlier for earlier, later in itertools.pairwise(started)]
    assert all(0.4 - STORED_PRECISION_S <= gap < 2.0 for gap in gaps), gaps
