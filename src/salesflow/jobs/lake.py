"""Looks at and care of the lake: ``status``, ``show``, ``reconcile``, ``maintain``, the sample
Gold record, the quality gates' results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.errors import ConfigError, ParameterError
from salesflow.gold.status import TableStatus, table_status
from salesflow.lake.log import Head, head
from salesflow.lake.maintenance import Maintained, maintain
from salesflow.lake.tables import ALL_TABLES, BRONZE_EVENTS
from salesflow.pipeline.reconcile import Reconciliation, reconcile_lake
from salesflow.quality.results import latest_per_layer, latest_run


def lake_status(ctx: RunContext | Settings, as_of: datetime | None = None) -> list[TableStatus]:
    return table_status(as_context(ctx).lake_as_of(as_of))


def show_table(ctx: RunContext | Settings, qualified: str, limit: int | None, version: int | None = None,
               as_of: datetime | None = None) -> Head:
    """The first rows of ``layer.table`` now, at a Delta ``version``, or as of an instant."""
    ctx = as_context(ctx)
    spec = next((t for t in ALL_TABLES if t.qualified == qualified), None)
    if spec is None:
        raise ParameterError(f"no table {qualified!r}; tables: {', '.join(t.qualified for t in ALL_TABLES)}")
    found = head(ctx.lake_as_of(as_of), spec, limit, version)
    if found is None:
        when = f" at version {version}" if version is not None else f" as of {as_of}" if as_of else ""
        raise ConfigError(f"{qualified} does not exist{when} in {ctx.settings.lake_root}")
    return found


def reconcile(ctx: RunContext | Settings) -> Reconciliation:
    return reconcile_lake(as_context(ctx).lake, money=True)


def maintain_lake(ctx: RunContext | Settings, retention_hours: float | None = None) -> list[Maintained]:
    ctx = as_context(ctx)
    return maintain(ctx.lake, retention_hours or ctx.settings.stream.vacuum_retention_hours)


def quality_results(ctx: RunContext | Settings, run_id: str | None = None) -> list[dict[str, Any]]:
    """The gate results of one run, or by default each layer's latest run, as ``salesflow quality
    report`` shows them."""
    lake = as_context(ctx).lake
    return latest_run(lake, run_id) if run_id is not None else latest_per_layer(lake)


def records_held(ctx: RunContext | Settings) -> int:
    """Records the data directory already holds: Bronze's rows plus the lines of landing segments
    (landed and maybe not batched yet). Counting lines only when Bronze is empty keeps this cheap."""
    ctx = as_context(ctx)
    bronze = ctx.lake.count_rows(BRONZE_EVENTS)
    if bronze:
        return bronze
    landing = ctx.settings.landing_dir
    return sum(path.read_bytes().count(b"\n") for path in landing.glob("*.jsonl")) if landing.exists() else 0
