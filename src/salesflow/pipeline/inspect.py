"""Read-only looks at the lake: table status and the sample gold record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from salesflow.config import Settings
from salesflow.engine import create_engine
from salesflow.lake.delta import Lake
from salesflow.lake.tables import ALL_TABLES, GOLD_SALES_BY_WINDOW
from salesflow.models import load_model


@dataclass(frozen=True)
class TableStatus:
    table: str
    version: int | None
    rows: int
    files: int


def table_status(lake: Lake) -> list[TableStatus]:
    out = []
    for spec in ALL_TABLES:
        table = lake.table(spec)
        if table is None:
            out.append(TableStatus(spec.qualified, None, 0, 0))
            continue
        dataset = table.to_pyarrow_dataset()
        out.append(TableStatus(spec.qualified, table.version(), dataset.count_rows(), len(table.file_uris())))
    return out


def sample_gold_record(settings: Settings) -> dict[str, Any] | None:
    lake = Lake(settings.lake_root)
    dataset = lake.dataset(GOLD_SALES_BY_WINDOW)
    if dataset is None:
        return None
    with create_engine(settings) as engine:
        engine.register("gold_sales_by_window", dataset)
        rows = engine.run(load_model("reports.sample_window")).to_pylist()
    return rows[0] if rows else None
