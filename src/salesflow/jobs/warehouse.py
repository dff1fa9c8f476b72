"""``salesflow warehouse load`` and ``query``: Silver and Gold into the star schema, and the
business questions asked of it."""

from __future__ import annotations

import tempfile
from datetime import date, datetime

import pyarrow as pa

from salesflow.analytics import run_query
from salesflow.config import Settings, WarehouseConfig
from salesflow.context import RunContext, as_context
from salesflow.errors import NothingYetError
from salesflow.lake.delta import Lake
from salesflow.ops import lineage
from salesflow.warehouse.load import LoadResult, WarehouseLoader
from salesflow.warehouse.targets import connect


@lineage.traced("warehouse_load", (*lineage.SILVER, *lineage.GOLD), lineage.WAREHOUSE)
def load_warehouse(ctx: RunContext | Settings, *, full: bool = False, date_from: date | None = None,
                   date_to: date | None = None, lake: Lake | None = None) -> LoadResult:
    """``lake`` may be a time-travel view (``ctx.lake_as_of(...)``): then no gate results are written."""
    ctx = as_context(ctx)
    lake = lake or ctx.lake
    with ctx.engine() as engine, connect(ctx.settings) as target:
        gate = ctx.gate(engine, "warehouse") if lake.as_of is None else None
        loader = WarehouseLoader(ctx.settings, lake, engine, target, gate)
        return loader.load(full=full, date_from=date_from, date_to=date_to)


def answer_query(ctx: RunContext | Settings, name: str, params: dict[str, str],
                 as_of: datetime | None = None) -> pa.Table:
    """An analytics query on the warehouse, or, ``as_of`` an instant, on a throwaway DuckDB
    warehouse loaded from the lake as it was then."""
    ctx = as_context(ctx)
    if as_of is None:
        with connect(ctx.settings) as target:
            try:
                return run_query(target, name, params)
            except Exception as exc:
                if "does not exist" not in str(exc):  # DuckDB's and PostgreSQL's words for a missing table
                    raise
                raise NothingYetError("the warehouse has no tables yet: run `salesflow batch` and "
                                      "`salesflow warehouse load` (or `salesflow demo`) first") from None
    with tempfile.TemporaryDirectory(prefix="salesflow-as-of-") as scratch:
        pinned = ctx.with_settings(ctx.settings.model_copy(
            update={"warehouse": WarehouseConfig(path=f"{scratch}/as_of.duckdb")}))
        load_warehouse(pinned, full=True, lake=ctx.lake_as_of(as_of))
        with connect(pinned.settings) as target:
            return run_query(target, name, params)
