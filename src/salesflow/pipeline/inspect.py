"""Read-only looks at the lake: table status and the sample gold record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from salesflow.config import Settings
from salesflow.engine import create_engine
from salesflow.gold.aggregate import gold_committed
from salesflow.lake.delta import Lake
from salesflow.lake.storage import open_lake
from salesflow.lake.tables import (
    ALL_TABLES,
    BRONZE_EVENTS,
    GOLD_SALES_BY_WINDOW,
    TableSpec,
)
from salesflow.models import load_model
from salesflow.silver.process import silver_committed


@dataclass(frozen=True)
class TableStatus:
    table: str
    version: int | None
    rows: int
    files: int
    last_update: datetime | None = None
    lag_batches: int | None = None
    """Bronze batches not yet in this layer (Silver and Gold tables)."""


def table_status(lake: Lake) -> list[TableStatus]:
    out = []
    lags = _lags(lake)
    for spec in ALL_TABLES:
        table = lake.table(spec)
        if table is None:
            out.append(TableStatus(spec.qualified, None, 0, 0))
            continue
        dataset = table.to_pyarrow_dataset()
        updated = _commit_time(lake, spec, table.version())
        out.append(TableStatus(spec.qualified, table.version(), dataset.count_rows(), len(table.file_uris()),
                               updated, lags.get(spec.layer)))
    return out


def _commit_time(lake: Lake, spec: TableSpec, version: int) -> datetime | None:
    """When ``version`` was committed. Read from the newest log: delta-rs mislabels the history
    of a table loaded at an older version."""
    latest = dataclasses.replace(lake, as_of=None, _handles={}).table(spec)
    for commit in [] if latest is None else latest.history():
        if commit.get("version") == version:
            return datetime.fromtimestamp(commit["timestamp"] / 1000, UTC)
    return None


def _lags(lake: Lake) -> dict[str, int]:
    bronze = lake.table(BRONZE_EVENTS)
    if bronze is None:
        return {}
    from salesflow.bronze.ingest import next_bronze_batch

    newest = next_bronze_batch(lake) - 1
    silver, gold = silver_committed(lake), gold_committed(lake)
    # Batch ids are sparse across sources only in rare replans: the difference is an upper bound.
    return {"silver": max(0, newest - silver), "gold": max(0, newest - gold)}


def sample_gold_record(settings: Settings) -> dict[str, Any] | None:
    lake = open_lake(settings)
    dataset = lake.dataset(GOLD_SALES_BY_WINDOW)
    if dataset is None:
        return None
    with create_engine(settings) as engine:
        engine.register("gold_sales_by_window", dataset)
        rows = engine.run(load_model("reports.sample_window")).to_pylist()
    return rows[0] if rows else None
