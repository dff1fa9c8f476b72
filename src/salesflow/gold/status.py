"""Read-only looks at the whole lake: each table's status with how far Silver and Gold lag
behind Bronze, and the sample Gold record. Gold is the last lake stage, so it knows every mark."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from salesflow.bronze.rows import next_bronze_batch
from salesflow.engine.base import EngineAdapter
from salesflow.gold.aggregate import gold_committed
from salesflow.lake.delta import Lake
from salesflow.lake.log import describe
from salesflow.lake.tables import ALL_TABLES, BRONZE_EVENTS, GOLD_SALES_BY_WINDOW
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
        info = describe(lake, spec)
        if info is None:
            out.append(TableStatus(spec.qualified, None, 0, 0))
            continue
        out.append(TableStatus(spec.qualified, info.version, info.rows, info.files, info.last_update,
                               lags.get(spec.layer)))
    return out


def _lags(lake: Lake) -> dict[str, int]:
    if not lake.exists(BRONZE_EVENTS):
        return {}
    newest = next_bronze_batch(lake) - 1
    silver, gold = silver_committed(lake), gold_committed(lake)
    # Batch ids are sparse across sources only in rare replans: the difference is an upper bound.
    return {"silver": max(0, newest - silver), "gold": max(0, newest - gold)}


def sample_gold_record(lake: Lake, engine: EngineAdapter) -> dict[str, Any] | None:
    """One row: the engine reads the table where it keeps rows (Spark: on the executors)."""
    if not engine.read_table(lake, GOLD_SALES_BY_WINDOW, "gold_sales_by_window", predicate="window_size = '1h'"):
        return None
    rows = engine.run(load_model("reports.sample_window")).to_pylist()
    return rows[0] if rows else None
