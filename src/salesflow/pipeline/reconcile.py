"""Whole-lake reconciliation: every Bronze record is in exactly one of silver, quarantine, duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    BRONZE_EVENTS,
    DUPLICATES,
    QUARANTINE,
    SILVER_EVENT_TABLES,
)
from salesflow.silver.process import silver_committed


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


def reconcile_lake(lake: Lake, up_to_batch: int | None = None) -> Reconciliation:
    """Counts over the whole lake, or over batches up to ``up_to_batch`` (those Silver finished:
    a live stream always has one batch between layers)."""
    return Reconciliation(
        bronze=lake.count_rows(BRONZE_EVENTS, up_to_batch),
        silver_events=sum(lake.count_rows(spec, up_to_batch) for spec in SILVER_EVENT_TABLES),
        quarantined=lake.count_rows(QUARANTINE, up_to_batch),
        duplicates=lake.count_rows(DUPLICATES, up_to_batch),
    )


def reconcile_finished(lake: Lake) -> Reconciliation:
    """Counts over the batches Silver has finished. A batch that another writer (a stream, a
    partner-file load) has put in Bronze since is in flight, not lost; the whole lake would count
    it in Bronze before Silver could have taken it."""
    return reconcile_lake(lake, up_to_batch=silver_committed(lake))
