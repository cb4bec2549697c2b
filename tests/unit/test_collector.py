"""The garbage collector's pace while jobs run (worker/collector.py)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from underway.worker.collector import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*before)


def test_young_collections_are_rarer_inside_and_as_before_after() -> None:
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_thresholds_come_back_only_once_the_last_of_overlapping_drains_ends() -> None:
    first_inside, first_may_end = threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def first() -> None:
        with fewer_collections():
            first_inside.set()
            first_may_end.wait(5)
        seen.append(gc.get_threshold())

    thread = threading.Thread(target=first)
    thread.start()
    assert first_inside.wait(5)
    with fewer_collections():
        pass
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10), "the first drain still runs"
    first_may_end.set()
    thread.join(5)
    assert seen == [(700, 10, 10)]


def test_a_collector_whose_automatic_collections_are_off_is_left_so() -> None:
    gc.set_threshold(0, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (0, 10, 10)
    assert gc.get_threshold() == (0, 10, 10)
