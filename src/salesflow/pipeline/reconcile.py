"""Whole-lake reconciliation: every Bronze record is in exactly one of silver, quarantine, duplicates."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.dataset as ds

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


def reconcile_lake(lake: Lake, up_to_batch: int | None = None) -> Reconciliation:
    """Counts over the whole lake, or over batches up to ``up_to_batch`` (those Silver finished:
    a live stream always has one batch between layers)."""
    keep = None if up_to_batch is None else ds.field("batch_id") <= up_to_batch
    return Reconciliation(
        bronze=_count(lake, BRONZE_EVENTS, keep),
        silver_events=sum(_count(lake, spec, keep) for spec in SILVER_EVENT_TABLES),
        quarantined=_count(lake, QUARANTINE, keep),
        duplicates=_count(lake, DUPLICATES, keep),
    )


def _count(lake: Lake, spec: TableSpec, keep: ds.Expression | None = None) -> int:
    dataset = lake.dataset(spec)
    return 0 if dataset is None else dataset.count_rows(filter=keep)
