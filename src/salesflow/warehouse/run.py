"""Entry points the CLI calls: load the warehouse, print DDL."""

from __future__ import annotations

import uuid
from datetime import date

from salesflow.config import Settings
from salesflow.engine import create_engine
from salesflow.lake.delta import Lake
from salesflow.lake.storage import open_lake
from salesflow.quality import make_gate
from salesflow.warehouse.load import LoadResult, WarehouseLoader
from salesflow.warehouse.targets import connect


def load_warehouse(settings: Settings, *, full: bool = False, date_from: date | None = None,
                   date_to: date | None = None, lake: Lake | None = None) -> LoadResult:
    """``lake`` may be a time-travel view (``Lake(root, as_of=...)``): then no gate results are written."""
    lake = lake or open_lake(settings)
    with create_engine(settings) as engine, connect(settings) as target:
        gate = make_gate(engine, settings, "warehouse", uuid.uuid4().hex[:12]) if lake.as_of is None else None
        loader = WarehouseLoader(settings, lake, engine, target, gate)
        return loader.load(full=full, date_from=date_from, date_to=date_to)
