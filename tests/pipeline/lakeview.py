"""Small readers that turn lake tables into plain Python for assertions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from salesflow.config import Settings
from salesflow.lake.delta import Lake
from salesflow.lake.tables import ALL_TABLES, TableSpec


def rows(settings: Settings, spec: TableSpec) -> list[dict[str, Any]]:
    table = Lake(settings.lake_root).read(spec)
    return [] if table is None else table.to_pylist()


def fingerprint(settings: Settings) -> dict[str, tuple[int | None, int, Decimal | None]]:
    """Per table: Delta version, row count, and the sum of the first money column."""
    lake = Lake(settings.lake_root)
    out = {}
    for spec in ALL_TABLES:
        table = lake.read(spec)
        if table is None:
            out[spec.qualified] = (None, 0, None)
            continue
        money = next((n for n in ("revenue", "total_amount", "list_price") if n in table.column_names), None)
        total = sum((v for v in table[money].to_pylist() if v is not None), Decimal(0)) if money else None
        out[spec.qualified] = (lake.version(spec), table.num_rows, total)
    return out
