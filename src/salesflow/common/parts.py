"""Where a run's time goes: wall seconds per named part, each thread's time charged to its innermost part.

``salesflow batch --json`` reports them as ``seconds_by_part`` and bench/compare.py splits the
batch's cost over a bare SQL script with them (Bronze, Delta writes, gates, reconciliation,
dedupe state). A part entered inside another pauses the outer one, so on one thread the parts add
up to the time spent in any of them and nothing is counted twice. Threads are summed: Bronze is
ingested ahead on a thread of its own, so its parts overlap the main thread's, whose own parts
(including ``waiting for bronze``) add up to the run's wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_spent: dict[str, float] = {}
_local = threading.local()


@dataclass
class _Open:
    name: str
    since: float


@contextmanager
def part(name: str) -> Iterator[None]:
    """Charge the time inside to ``name`` (minus any part entered within it)."""
    stack: list[_Open] = _local.__dict__.setdefault("stack", [])
    now = time.perf_counter()
    if stack:  # the outer part stops its clock here and starts it again when this one ends
        _charge(stack[-1], now)
    stack.append(_Open(name, now))
    try:
        yield
    finally:
        end = time.perf_counter()
        _charge(stack.pop(), end)
        if stack:
            stack[-1].since = end


def _charge(entry: _Open, now: float) -> None:
    with _lock:
        _spent[entry.name] = _spent.get(entry.name, 0.0) + now - entry.since
    entry.since = now


def timed_iter(name: str, items: Iterator[T]) -> Iterator[T]:
    """``items`` with the time spent producing each one charged to ``name``."""
    while True:
        with part(name):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def seconds_by_part() -> dict[str, float]:
    """Seconds per part since the process started, largest first."""
    with _lock:
        return {name: round(seconds, 3) for name, seconds in sorted(_spent.items(), key=lambda kv: -kv[1])}
