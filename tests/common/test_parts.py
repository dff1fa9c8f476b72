"""Where a run's time goes: nested parts are charged exclusively, threads add up."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from salesflow.common import parts


class Clock:
    """A clock that moves only when told, so the test does not depend on the machine's speed."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(parts.time, "perf_counter", fake)
    monkeypatch.setattr(parts, "_spent", {})
    return fake


def test_an_inner_part_pauses_the_outer_one(clock: Clock) -> None:
    with parts.part("silver models"):
        clock.now += 2
        with parts.part("dedupe state"):
            clock.now += 3
            with parts.part("delta write"):
                clock.now += 5
            clock.now += 1
        clock.now += 4
    assert parts.seconds_by_part() == {"silver models": 6.0, "delta write": 5.0, "dedupe state": 4.0}


def test_a_failing_part_is_still_charged_and_the_outer_resumes(clock: Clock) -> None:
    with parts.part("gates"):
        clock.now += 1
        with pytest.raises(RuntimeError), parts.part("reconciliation"):
            clock.now += 2
            raise RuntimeError("unbalanced")
        clock.now += 3
    assert parts.seconds_by_part() == {"gates": 4.0, "reconciliation": 2.0}


def test_threads_keep_their_own_nesting_and_add_up(clock: Clock) -> None:
    inside = threading.Event()
    leave = threading.Event()

    def bronze() -> None:
        with parts.part("bronze write"):
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=bronze)
    with parts.part("silver models"):
        worker.start()
        inside.wait(10)
        clock.now += 7  # both threads are inside a part for these 7 seconds
        leave.set()
        worker.join(10)
    assert parts.seconds_by_part() == {"silver models": 7.0, "bronze write": 7.0}


def test_timed_iter_charges_producing_each_item(clock: Clock) -> None:
    def slow() -> Iterator[str]:
        for item in ("a", "b"):
            clock.now += 2
            yield item
        clock.now += 1

    seen = []
    for item in parts.timed_iter("waiting for bronze", iter(slow())):
        clock.now += 10  # the consumer's own work is not the iterator's
        seen.append(item)
    assert seen == ["a", "b"]
    assert parts.seconds_by_part() == {"waiting for bronze": 5.0}
