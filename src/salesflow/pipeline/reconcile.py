"""Whole-lake reconciliation: every Bronze record is in exactly one of silver, quarantine, duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    BRONZE_EVENTS,
    DUPLICATES,
    QUARANTINE,
    SILVER_EVENT_TABLES,
    TableSpec,
)


@dataclass(frozen=True)
class Reconciliation:
    bronze: int
    silver_events: int
    quarantined: int
    duplicates: int

    @property
    def accounted(self) -> int:
        return self.silver_events + self.quarantined + self.duplicates

    @property
    def balanced(self) -> bool:
        return self.bronze == self.accounted


def reconcile_lake(lake: Lake) -> Reconciliation:
    return Reconciliation(
        bronze=_count(lake, BRONZE_EVENTS),
        silver_events=sum(_count(lake, spec) for spec in SILVER_EVENT_TABLES),
        quarantined=_count(lake, QUARANTINE),
        duplicates=_count(lake, DUPLICATES),
    )


def _count(lake: Lake, spec: TableSpec) -> int:
    dataset = lake.dataset(spec)
    return 0 if dataset is None else dataset.count_rows()
