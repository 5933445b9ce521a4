"""deadline.py's bookkeeping: per thread, nested deadlines only shorten, paused() stops the clock,
and netdeadline.bounded hands each network call only the time left."""

from __future__ import annotations

import threading
import time

import pytest

from authcli.deadline import deadline, paused, remaining
from authcli.netdeadline import bounded


class Late(Exception):
    pass


def test_no_deadline_leaves_timeouts_alone() -> None:
    assert remaining() is None and bounded(30.0) == 30.0 and bounded(None) is None


def test_a_deadline_shortens_each_call_and_raises_once_passed() -> None:
    with deadline(0.2, Late):
        left = bounded(30.0)
        assert left is not None and 0 < left <= 0.2
        assert bounded(0.05) == 0.05
        time.sleep(0.25)
        with pytest.raises(Late):
            bounded(30.0)
    assert remaining() is None


def test_an_inner_deadline_only_shortens_the_outer() -> None:
    with deadline(0.5, Late):
        with deadline(100.0, KeyError):
            left = remaining()
            assert left is not None and left <= 0.5
        with deadline(0.1, KeyError):
            left = remaining()
            assert left is not None and left <= 0.1
        left = remaining()
        assert left is not None and 0.1 < left <= 0.5


def test_paused_stops_the_clock() -> None:
    with deadline(0.3, Late):
        with paused():
            assert remaining() is None and bounded(5.0) == 5.0
            time.sleep(0.4)
        left = remaining()
        assert left is not None and left > 0.2


def test_a_deadline_belongs_to_its_thread() -> None:
    seen: list[float | None] = []
    with deadline(5.0, Late):
        worker = threading.Thread(target=lambda: seen.append(remaining()))
        worker.start()
        worker.join()
    assert seen == [None]
