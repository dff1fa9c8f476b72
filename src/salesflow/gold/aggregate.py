"""Silver -> Gold. Each Silver batch is folded into the gold rows it touches.

Every gold measure adds up across batches (Silver holds each order in exactly one batch), so a
batch costs what it holds, not what its days hold: a stream's tenth hour costs no more than its
first. Each model reads the batch's Silver rows and ``prior_<table>``, the table's current rows
in the batch's scope, and returns the scope's new rows; one replace-where commit marked with
the batch id swaps them in. Marked commits make it exactly once; late events land in the
windows they belong to. A backfill computes whole partitions from Silver with an empty prior.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    DUPLICATES,
    GOLD_CATEGORY_REVENUE,
    GOLD_DAILY_SALES,
    GOLD_FUNNEL_DAILY,
    GOLD_SALES_BY_WINDOW,
    QUARANTINE,
    REF_PRODUCTS,
    SILVER_CART_ADDS,
    SILVER_EVENT_TABLES,
    SILVER_ORDER_LINES,
    SILVER_PRODUCT_VIEWS,
    TableSpec,
)
from salesflow.models import load_model
from salesflow.quality.gate import QualityGate
from salesflow.quality.results import write_results

log = logging.getLogger(__name__)
GOLD_APP = "salesflow.gold"
OUTPUTS: dict[TableSpec, str] = {
    GOLD_SALES_BY_WINDOW: "gold.sales_by_window",
    GOLD_DAILY_SALES: "gold.daily_sales",
    GOLD_CATEGORY_REVENUE: "gold.category_revenue",
    GOLD_FUNNEL_DAILY: "gold.funnel_daily",
}
INPUTS = (SILVER_ORDER_LINES, SILVER_PRODUCT_VIEWS, SILVER_CART_ADDS)
_EMPTY_PRODUCTS = pa.schema([("product_id", pa.string()), ("category", pa.string())])
_TS, _MONEY = pa.timestamp("us", "UTC"), pa.decimal128(18, 2)
_PRIOR = {  # the columns each model folds the batch into
    GOLD_SALES_BY_WINDOW: pa.schema([
        ("window_size", pa.string()), ("window_start", _TS), ("window_end", _TS), ("event_date", pa.date32()),
        ("category", pa.string()), ("store_id", pa.string()), ("revenue", _MONEY), ("orders", pa.int64()),
        ("units", pa.int64()), ("updated_at", _TS)]),
    GOLD_DAILY_SALES: pa.schema([
        ("event_date", pa.date32()), ("product_id", pa.string()), ("category", pa.string()), ("units", pa.int64()),
        ("revenue", _MONEY), ("discount", _MONEY), ("orders", pa.int64())]),
    GOLD_CATEGORY_REVENUE: pa.schema([
        ("event_date", pa.date32()), ("category", pa.string()), ("revenue", _MONEY), ("orders", pa.int64()),
        ("units", pa.int64())]),
    GOLD_FUNNEL_DAILY: pa.schema([
        ("event_date", pa.date32()), ("category", pa.string()), ("views", pa.int64()), ("carts", pa.int64()),
        ("orders", pa.int64())]),
}


@dataclass(frozen=True)
class GoldBatch:
    batch_id: int
    event_dates: tuple[date, ...]
    rows: dict[str, int]
    written_tables: int


def gold_committed(lake: Lake) -> int:
    """Last Silver batch reflected in every gold table (-1 when none)."""
    return min(lake.txn_version(spec, GOLD_APP) for spec in OUTPUTS)


class GoldBuilder:
    def __init__(self, lake: Lake, engine: EngineAdapter, gate: QualityGate | None = None) -> None:
        self.lake, self.engine, self.gate = lake, engine, gate

    def committed(self) -> int:
        """Last Silver batch reflected in every gold table."""
        return gold_committed(self.lake)

    def pending_batches(self, silver_committed: int) -> list[int]:
        """Silver batches not yet in gold, oldest first."""
        done = self.committed()
        wanted = range(done + 1, silver_committed + 1)
        found: set[int] = set()
        for spec in (*SILVER_EVENT_TABLES, QUARANTINE, DUPLICATES):
            files = _files_holding(self.lake, spec, wanted)
            if files is None:  # no per-file statistics: read the column
                keep = (ds.field("batch_id") > done) & (ds.field("batch_id") <= silver_committed)
                found |= set(self.lake.distinct((spec,), "batch_id", keep))
            elif files.num_rows:
                for low, high in zip(files["min.batch_id"].to_pylist(), files["max.batch_id"].to_pylist(), strict=True):
                    found |= set(range(max(low, wanted.start), min(high, wanted.stop - 1) + 1))
        return sorted(found)

    def build(self, batch_id: int, silver: dict[TableSpec, pa.Table] | None = None) -> GoldBatch:
        """Fold Silver batch ``batch_id`` into every gold table that has not taken it yet.

        ``silver`` may hand over the batch's Silver rows (saves reading them back). Each table
        reads its current rows in the batch's scope (the dates, and for windows the time range,
        the batch touched), the model adds the batch's aggregates to them, and the result
        replaces that scope in one commit marked with the batch id. A table that already holds
        the batch is skipped, so a redo after a crash adds nothing twice."""
        todo = [spec for spec in OUTPUTS if self.lake.txn_version(spec, GOLD_APP) < batch_id]
        rows = self._register_batch(batch_id, silver)
        event_dates = _dates(rows)
        params = {"updated_at": datetime.now(UTC)}
        outputs: dict[TableSpec, pa.Table] = {}
        scopes: dict[TableSpec, _Scope] = {}
        for spec in todo:
            scopes[spec] = _scope(spec, event_dates, rows[SILVER_ORDER_LINES])
            self._register_prior(spec, scopes[spec])
            outputs[spec] = self.engine.run(load_model(OUTPUTS[spec]), **params)
        self._gate(batch_id, event_dates, outputs)  # a blocking rule stops every gold write of the batch
        written = sum(self.lake.side_by_side({
            spec: partial(self.lake.replace_where, spec, table, scopes[spec].sql, app_id=GOLD_APP, version=batch_id)
            for spec, table in outputs.items()}).values())
        return GoldBatch(batch_id, event_dates, {s.name: t.num_rows for s, t in outputs.items()}, written)

    def rebuild(self, event_dates: tuple[date, ...]) -> dict[str, int]:
        """Recompute these partitions from every committed Silver batch (a backfill)."""
        done = self.committed()
        keep = (ds.field("batch_id") <= done) & ds.field("event_date").isin(list(event_dates))
        prune = f"batch_id <= {done} AND {_partition_predicate(event_dates)}"
        for spec in INPUTS:
            self._register_input(spec, self.lake.read(spec, filter=keep, prune=prune))
        self._register_products()
        for spec in OUTPUTS:  # nothing to fold into: the partitions are computed whole
            self.engine.register(f"prior_{spec.name}", _PRIOR[spec].empty_table())
        outputs = {spec: self.engine.run(load_model(name), updated_at=datetime.now(UTC)) for spec, name in OUTPUTS.items()}
        self._gate(done, event_dates, outputs)
        for spec, table in outputs.items():
            self.lake.replace_rows(spec, table, _partition_predicate(event_dates))
        return {s.name: t.num_rows for s, t in outputs.items()}

    def _gate(self, batch_id: int, event_dates: tuple[date, ...], outputs: dict[TableSpec, pa.Table]) -> None:
        if self.gate is None or not outputs:
            return
        partition = f"batch {batch_id}: " + (f"{event_dates[0]}..{event_dates[-1]}" if event_dates else "no dates")
        try:
            checked = []
            for spec, table in outputs.items():
                self.engine.register(f"check_{spec.name}", table)
                checked += self.gate.check(spec.name, f"check_{spec.name}", partition)
            self.gate.enforce(checked, f"gold batch {batch_id}")
        finally:
            write_results(self.lake, self.gate.results)
            self.gate.results.clear()

    def _register_batch(self, batch_id: int, silver: dict[TableSpec, pa.Table] | None) -> dict[TableSpec, pa.Table]:
        """The batch's own Silver rows as the models' inputs, and the products they map to categories."""
        rows: dict[TableSpec, pa.Table] = {}
        for spec in INPUTS:
            table = silver.get(spec) if silver is not None else None
            if table is None:
                table = self.lake.read(spec, filter=ds.field("batch_id") == batch_id, prune=f"batch_id = {batch_id}")
            rows[spec] = self._register_input(spec, table)
        self._register_products()
        return rows

    def _register_products(self) -> None:
        products = self.lake.snapshot(REF_PRODUCTS)
        self.engine.register("ref_products", products.select(_EMPTY_PRODUCTS.names) if products is not None
                             else _EMPTY_PRODUCTS.empty_table())

    def _register_input(self, spec: TableSpec, table: pa.Table | None) -> pa.Table:
        assert table is not None, f"{spec.qualified} must exist before gold runs"  # noqa: S101 - type narrowing
        self.engine.register(f"silver_{spec.name}", table)
        return table

    def _register_prior(self, spec: TableSpec, scope: _Scope) -> None:
        """The table's current rows in the scope the batch is folded into."""
        prior = None if scope.empty else self.lake.read(spec, columns=_PRIOR[spec].names, filter=scope.filter,
                                                         prune=scope.sql)
        self.engine.register(f"prior_{spec.name}", prior if prior is not None else _PRIOR[spec].empty_table())


@dataclass(frozen=True)
class _Scope:
    """The rows of a gold table one batch can change: as a Delta predicate and a row filter."""

    sql: str
    filter: ds.Expression
    empty: bool


def _scope(spec: TableSpec, event_dates: tuple[date, ...], lines: pa.Table) -> _Scope:
    dates = ds.field("event_date").isin(list(event_dates))
    if spec != GOLD_SALES_BY_WINDOW:
        return _Scope(_partition_predicate(event_dates), dates, not event_dates)
    if lines.num_rows == 0:
        return _Scope(_partition_predicate(()), dates, True)
    # Every window a line falls in starts between the hour of the earliest line and the latest line.
    first = pc.min(lines["event_time"]).as_py().replace(minute=0, second=0, microsecond=0)
    last = pc.max(lines["event_time"]).as_py()
    days = tuple(sorted(set(pc.unique(lines["event_date"]).to_pylist()) - {None}))
    keep = (ds.field("event_date").isin(list(days)) & (ds.field("window_start") >= pa.scalar(first, _TS))
            & (ds.field("window_start") <= pa.scalar(last, _TS)))
    sql = (f"{_partition_predicate(days)} AND window_start >= '{first.isoformat()}'"
           f" AND window_start <= '{last.isoformat()}'")
    return _Scope(sql, keep, False)


def _dates(rows: dict[TableSpec, pa.Table]) -> tuple[date, ...]:
    found: set[date] = set()
    for table in rows.values():
        found |= set(pc.unique(table["event_date"]).to_pylist())
    return tuple(sorted(found - {None}))


def _files_holding(lake: Lake, spec: TableSpec, batches: range) -> pa.Table | None:
    """The files of ``spec`` whose batch_id range meets ``batches``; None without statistics."""
    files = lake.file_stats(spec, "batch_id")
    if files is None or files.num_rows == 0:  # an empty table's log may carry no stats columns at all
        return files
    keep = pc.and_(pc.less_equal(files["min.batch_id"], batches.stop - 1),
                   pc.greater_equal(files["max.batch_id"], batches.start))
    return files.filter(keep)


def _partition_predicate(event_dates: tuple[date, ...]) -> str:
    # An empty set still commits (advancing the batch marker) and replaces nothing.
    if not event_dates:
        return "event_date = '1970-01-01' AND event_date <> '1970-01-01'"
    return "event_date IN (" + ", ".join(f"'{d.isoformat()}'" for d in event_dates) + ")"
