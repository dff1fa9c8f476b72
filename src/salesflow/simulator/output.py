"""Where simulated traffic goes: the landing log (reference data beside it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from salesflow.contract.reference import reference_lines
from salesflow.simulator.catalog import Catalog
from salesflow.simulator.defects import SimRecord
from salesflow.sources.landing import LandingLog


@dataclass(frozen=True)
class SimulationOutput:
    records: int
    segments: int
    defects: dict[str, int]


def write_reference(landing: LandingLog, catalog: Catalog) -> None:
    landing.write_reference("products", reference_lines(catalog.products))
    landing.write_reference("customers", reference_lines(catalog.customers))
    landing.write_reference("stores", reference_lines(catalog.stores))


def write_to_landing(landing: LandingLog, records: Iterable[SimRecord], per_segment: int,
                     on_progress: Callable[[int], None] | None = None) -> SimulationOutput:
    """Write records in segments of ``per_segment`` lines; count defects as they pass."""
    defects: dict[str, int] = {}
    count = 0

    def lines() -> Iterator[bytes]:
        nonlocal count
        for record in records:
            count += 1
            if record.defect:
                defects[record.defect] = defects.get(record.defect, 0) + 1
            if on_progress and count % 10_000 == 0:
                on_progress(10_000)
            yield record.line

    segments = sum(1 for _ in landing.write_segments(lines(), per_segment))
    if on_progress:
        on_progress(count % 10_000)
    return SimulationOutput(count, segments, defects)


def write_paced(landing: LandingLog, records: Iterable[SimRecord], flush_seconds: float = 1.0) -> SimulationOutput:
    """Real-time mode: release each record when its event time arrives, one segment per flush."""
    defects: dict[str, int] = {}
    buffer: list[bytes] = []
    count = segments = 0
    last_flush = time.monotonic()
    for record in records:
        _sleep_until(record)
        buffer.append(record.line)
        count += 1
        if record.defect:
            defects[record.defect] = defects.get(record.defect, 0) + 1
        if time.monotonic() - last_flush >= flush_seconds:
            segments += landing.append(buffer) is not None
            buffer, last_flush = [], time.monotonic()
    segments += landing.append(buffer) is not None
    return SimulationOutput(count, segments, defects)


def _sleep_until(record: SimRecord) -> None:
    if record.event is None:
        return
    due = datetime.fromisoformat(record.event["event_time"].replace("Z", "+00:00"))
    delay = (due - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(min(delay, 5.0))
