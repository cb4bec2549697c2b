"""The claim's rules, decided once for both dialects: order, how far the laned backlog is
ranked, and the limits each chosen job must fit (queue, lane, rate key)."""

from __future__ import annotations

from typing import Any

import pytest

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


def test_the_last_plain_job_counts_only_when_plain_jobs_fill_the_claim() -> None:
    assert claiming.last_if_full([row(0, 1.0, 1), row(0, 5.0, 5)], 2) == (0, 5.0, 5)
    assert claiming.last_if_full([row(0, 1.0, 1)], 2) is None


def walk_rows(walk: claiming.LimitedWalk, backlog: list[dict[str, Any]]) -> list[Any]:
    """Drive `walk` over `backlog` (in claim order) as a dialect would; each read's
    leave-outs and cursor applied. Returns the reads made."""
    reads = []
    while (read := walk.next_read()) is not None:
        reads.append(read)
        rest = [
            r
            for r in backlog
            if (read.cursor is None or claiming.claim_order(r) > claim_key(read.cursor))
            and r["rate_key"] not in read.full_keys
            and r["lane"] not in read.full_lanes
        ]
        walk.take(rest[: read.size])
    return reads


def claim_key(cursor: tuple[int, Any, int]) -> tuple[Any, ...]:
    return (-cursor[0], cursor[1], cursor[2])


def test_a_walk_reads_past_full_keys_leaving_them_out_of_the_next_read() -> None:
    held = [limited(i, rate_key=f"h{i % 20}", rate_free=0, rate_next=10.5) for i in range(100)]
    free = [limited(100 + i, rate_key=f"f{i}", rate_free=1, rate_next=None) for i in range(5)]
    walk = claiming.LimitedWalk(3, None, claiming.HeldKeys(), now=10.0)

    reads = walk_rows(walk, held + free)

    assert seqs(walk.fitting) == [100, 101, 102]
    assert [r.size for r in reads] == [claiming.FIRST_READ_MIN, claiming.FIRST_READ_MIN * 4]
    assert reads[1].full_keys == sorted(f"h{i}" for i in range(20))
    assert reads[1].cursor == (0, 31.0, 31)


def test_a_key_full_for_a_while_has_its_jobs_parked_and_a_briefly_full_one_is_left_out() -> None:
    held = claiming.HeldKeys()
    walk = claiming.LimitedWalk(5, None, held, now=10.0)
    walk_rows(walk, [limited(1, rate_key="k", rate_free=0, rate_next=50.0)])
    brief = claiming.LimitedWalk(5, None, claiming.HeldKeys(), now=49.5)
    walk_rows(brief, [limited(2, rate_key="k", rate_free=0, rate_next=50.0)])

    assert walk.parked_keys == {"k": 50.0}
    assert brief.parked_keys == {}
    # Held for long, its jobs are read (so that new ones get parked); briefly, left out;
    # then free.
    assert claiming.LimitedWalk(5, None, held, now=30.0).full_keys == set()
    assert claiming.LimitedWalk(5, None, held, now=49.5).full_keys == {"k"}
    assert claiming.LimitedWalk(5, None, held, now=50.0).full_keys == set()


def test_held_keys_answer_the_briefly_held_ones_among_long_held_ones() -> None:
    held = claiming.HeldKeys()
    held.hold("long", 3600.0)
    held.hold("brief", 10.5)
    held.hold("spent", 5.0)
    assert held.briefly(4.0) == set()
    assert held.briefly(10.0) == {"brief"}
    assert held.next_in(10.0) == 0.5
    assert held.briefly(11.0) == set()
    assert held.next_in(11.0) == 3589.0
    assert held.briefly(3599.5) == {"long"}


def test_a_key_full_for_a_while_is_parked_whole_and_read_past() -> None:
    held = [limited(i, rate_key="h", rate_free=0, rate_next=90.0) for i in range(100)]
    walk = claiming.LimitedWalk(3, None, claiming.HeldKeys(), now=10.0)

    reads = walk_rows(walk, held)

    assert [read.full_keys for read in reads] == [[], ["h"]]
    assert walk.parked_keys == {"h": 90.0}
    assert walk.fitting == []


def test_a_key_or_lane_used_up_by_this_claim_is_left_out_of_its_next_read() -> None:
    backlog = [limited(i, "L", 2, rate_key=f"k{i}", rate_free=1) for i in range(40)]
    walk = claiming.LimitedWalk(5, None, claiming.HeldKeys(), now=0.0)

    walk_rows(walk, backlog)

    assert seqs(walk.fitting) == [0, 1]
    assert walk.full_lanes == {"L"}


def test_a_walk_stops_once_plain_jobs_would_come_first() -> None:
    backlog = [limited(i, rate_key="k", rate_free=0, rate_next=9.0) for i in range(100)]
    walk = claiming.LimitedWalk(3, (0, 20.0, 20), claiming.HeldKeys(), now=0.0)

    reads = walk_rows(walk, backlog)

    assert len(reads) == 1
    assert walk.fitting == []


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
    # A sliding window counts it a little longer: its job's code starts after the claim.
    assert claiming.start_expiry(100.5, 60.0, fixed=False) == pytest.approx(160.55)
    assert claiming.start_expiry(100.5, 0.1, fixed=False) == pytest.approx(100.625)
    assert claiming.start_expiry(100.5, 60.0, fixed=True) == 120.0
    assert claiming.start_expiry(120.0, 60.0, fixed=True) == 180.0


def test_a_start_claimed_at_a_fixed_windows_edge_counts_in_the_next_window_too() -> None:
    assert claiming.start_expiry(119.97, 60.0, fixed=True) == 180.0
    assert claiming.start_expiry(119.9, 60.0, fixed=True) == 120.0
    assert claiming.start_expiry(10.98, 0.1, fixed=True) == pytest.approx(11.1)
    assert claiming.start_expiry(10.95, 0.1, fixed=True) == pytest.approx(11.0)


def test_each_start_is_recorded_under_its_job_key_and_its_queue_key() -> None:
    chosen = [
        limited(1, rate_key="job:send", rate_free=1, rate_window_s=1.0, rate_fixed=False)
        | {"queue": "mail"},
        row(0, 2.0, 2),
    ]
    starts = claiming.rate_starts(chosen, {"mail": (10.0, True), "default": (5.0, False)}, 3.0)
    assert starts == [
        claiming.RateStart("job:send", 4.05),
        claiming.RateStart("queue:mail", 10.0),
        claiming.RateStart("queue:default", 8.05),
    ]


def test_the_jobs_a_walk_fitted_are_taken_as_they_are_unless_plain_jobs_or_queues_count() -> None:
    backlog = [limited(i, rate_key="k", rate_free=2) for i in range(1, 5)]
    walk = claiming.LimitedWalk(10, None, claiming.HeldKeys(), now=0.0)
    walk_rows(walk, backlog)

    assert seqs(claiming.choose_walked([], walk, 10, NO_LIMITS)) == [1, 2]
    assert seqs(claiming.choose_walked([row(0, 1.5, 9)], walk, 2, NO_LIMITS)) == [1, 9]
    one_left = QueueRoom(("default",), {"default": 1})
    assert seqs(claiming.choose_walked([], walk, 10, one_left)) == [1]


def test_parking_by_key_names_the_key_once_and_reads_past_its_jobs() -> None:
    held = [limited(i, rate_key="h", rate_free=0, rate_next=90.0) for i in range(100)]
    free = [limited(100 + i, rate_key=f"f{i}", rate_free=5) for i in range(3)]
    walk = claiming.LimitedWalk(3, None, claiming.HeldKeys(), now=10.0)

    reads = walk_rows(walk, held + free)

    assert walk.parked_keys == {"h": 90.0}
    assert reads[1].full_keys == ["h"]
    assert seqs(walk.fitting) == [100, 101, 102]


def test_the_next_slot_is_the_first_held_key_s_or_parked_job_s_whichever_comes_first() -> None:
    held = claiming.HeldKeys()
    assert held.next_in(10.0) is None
    held.parked_next = 13.0
    assert held.next_in(10.0) == 3.0
    held.hold("k", 12.0)
    assert held.next_in(10.0) == 2.0


def test_a_parked_time_found_past_with_none_due_is_forgotten_and_a_later_one_kept() -> None:
    held = claiming.HeldKeys()
    held.parked_next = 13.0
    held.none_parked_due(12.0)
    assert held.parked_next == 13.0
    held.none_parked_due(13.0)
    assert held.parked_next is None
