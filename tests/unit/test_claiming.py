"""The claim's rules, decided once for both dialects: order, how far the laned backlog is
ranked, and the limits each chosen job must fit (queue, lane, rate key)."""

from __future__ import annotations

from typing import Any

from underway.backends import claiming
from underway.backends.claiming import QueueRoom

NO_LIMITS = QueueRoom(("default",), {})


def row(priority: int, run_at: float, seq: int, **limits: Any) -> dict[str, Any]:
    return {"priority": priority, "run_at": run_at, "seq": seq, "queue": "default", **limits}


def limited(
    seq: int,
    lane: str | None = None,
    lane_free: int = 0,
    rate_key: str | None = None,
    rate_free: int = 0,
    **more: Any,
) -> dict[str, Any]:
    """A ready job with a lane and/or a rate key, and the room each had before the claim."""
    return row(
        0,
        float(seq),
        seq,
        lane=lane,
        lane_free=lane_free,
        rate_key=rate_key,
        rate_free=rate_free,
        **more,
    )


def seqs(rows: list[Any]) -> list[int]:
    return [r["seq"] for r in rows]


def test_the_claim_takes_the_first_jobs_of_both_kinds_in_claim_order() -> None:
    plain = [row(0, 1.0, 1), row(0, 3.0, 3)]
    laned = [limited(9, "a", 1) | {"priority": 5}, limited(2, "b", 1)]
    assert seqs(claiming.choose(plain, laned, 3, NO_LIMITS)) == [9, 1, 2]


def test_the_whole_lane_backlog_is_ranked_only_when_it_could_change_the_claim() -> None:
    last_plain = claiming.last_if_full([row(0, 1.0, 1), row(0, 5.0, 5)], 2)
    assert last_plain == (0, 5.0, 5)
    assert claiming.last_if_full([row(0, 1.0, 1)], 2) is None
    # The first scan filled the claim, or nothing was left out of it.
    assert not claiming.rank_whole_backlog([row(0, 1.0, 1)] * 2, 2, row(0, 2.0, 2), None)
    assert not claiming.rank_whole_backlog([], 2, None, None)
    # A left-out job could come before the last plain job chosen, or plain jobs do not fill.
    assert claiming.rank_whole_backlog([], 2, row(0, 4.0, 4), last_plain)
    assert claiming.rank_whole_backlog([], 2, row(0, 9.0, 9), None)
    # It comes after it: the plain jobs fill the claim whatever the ranks.
    assert not claiming.rank_whole_backlog([], 2, row(0, 9.0, 9), last_plain)


def test_a_rate_key_at_its_limit_holds_back_only_its_own_jobs() -> None:
    ready = [
        limited(1, rate_key="k1", rate_free=1),
        limited(2, rate_key="k1", rate_free=1),
        limited(3, rate_key="k2", rate_free=2),
        limited(4, rate_key="k1", rate_free=1),
        limited(5, rate_key="k2", rate_free=2),
        limited(6, rate_key="k2", rate_free=2),
    ]
    assert seqs(claiming.choose([], ready, 10, NO_LIMITS)) == [1, 3, 5]


def test_a_job_takes_room_in_its_lane_and_its_rate_key_at_once() -> None:
    ready = [
        # First in lane L, but its rate key is full: it must not hold lane L's slot.
        limited(1, "L", 1, rate_key="full", rate_free=0),
        limited(2, "L", 1, rate_key="k", rate_free=5),
        limited(3, "L", 1, rate_key="k", rate_free=5),
        limited(4, "M", 2, rate_key="k", rate_free=5),
    ]
    assert seqs(claiming.choose([], ready, 10, NO_LIMITS)) == [2, 4]


def test_a_queue_with_room_for_two_gives_two_of_its_jobs() -> None:
    room = claiming.queue_room(
        ["default", "mail"],
        [
            {
                "name": "default",
                "paused": False,
                "concurrency": 3,
                "running": 1,
                "rate_limit": None,
                "started": 0,
            },
        ],
    )
    assert room == QueueRoom(("default", "mail"), {"default": 2})
    plain = [row(0, float(i), i) for i in range(1, 5)]
    assert seqs(claiming.choose(plain, [], 10, room)) == [1, 2]


def test_paused_and_full_queues_are_not_claimed_from() -> None:
    controls = [
        {
            "name": "a",
            "paused": True,
            "concurrency": None,
            "running": 0,
            "rate_limit": None,
            "started": 0,
        },
        {
            "name": "b",
            "paused": False,
            "concurrency": None,
            "running": 0,
            "rate_limit": 10,
            "started": 10,
        },
        {
            "name": "c",
            "paused": False,
            "concurrency": 5,
            "running": 1,
            "rate_limit": 10,
            "started": 8,
        },
    ]
    room = claiming.queue_room(["a", "b", "c", "d"], controls)
    assert room.open == ("c", "d")
    assert room.free == {"b": 0, "c": 2}
    assert room.limit_for("c", 100) == 2
    assert room.limit_for("d", 100) == 100


def test_a_start_counts_for_a_sliding_window_or_until_its_fixed_window_ends() -> None:
    assert claiming.start_expiry(100.5, 60.0, fixed=False) == 160.5
    assert claiming.start_expiry(100.5, 60.0, fixed=True) == 120.0
    assert claiming.start_expiry(120.0, 60.0, fixed=True) == 180.0


def test_each_start_is_recorded_under_its_job_key_and_its_queue_key() -> None:
    chosen = [
        limited(1, rate_key="job:send", rate_free=1, rate_window_s=1.0, rate_fixed=False)
        | {"queue": "mail"},
        row(0, 2.0, 2),
    ]
    starts = claiming.rate_starts(chosen, {"mail": (10.0, True), "default": (5.0, False)}, 3.0)
    assert starts == [
        claiming.RateStart("job:send", 4.0),
        claiming.RateStart("queue:mail", 10.0),
        claiming.RateStart("queue:default", 8.0),
    ]
