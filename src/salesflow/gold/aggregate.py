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

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.common.parts import part
from salesflow.engine.base import EngineAdapter, Txn, WriteScope
from salesflow.errors import ModelError
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
        ("revenue", _MONEY), ("discount", _MONEY), ("orders", pa.int64()), ("gross_revenue", _MONEY),
        ("returns", _MONEY)]),
    GOLD_CATEGORY_REVENUE: pa.schema([
        ("event_date", pa.date32()), ("category", pa.string()), ("revenue", _MONEY), ("orders", pa.int64()),
        ("units", pa.int64()), ("gross_revenue", _MONEY), ("returns", _MONEY)]),
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

    def build(self, batch_id: int, silver: dict[TableSpec, str] | None = None) -> GoldBatch:
        """Fold Silver batch ``batch_id`` into every gold table that has not taken it yet.

        ``silver`` may hand over the batch's Silver relations on this engine (saves reading them
        back). Each table reads its current rows in the batch's scope (the dates, and for windows
        the time range, the batch touched), the model adds the batch's aggregates to them, and the
        result replaces that scope in one commit marked with the batch id. A table that already
        holds the batch is skipped, so a redo after a crash adds nothing twice."""
        todo = [spec for spec in OUTPUTS if self.lake.txn_version(spec, GOLD_APP) < batch_id]
        self._register_batch(batch_id, silver)
        event_dates = self._dates()
        params = {"updated_at": datetime.now(UTC)}
        writes: dict[TableSpec, tuple[str, WriteScope]] = {}
        for spec in todo:
            scope = self._scope(spec, event_dates)
            self._register_prior(spec, scope)
            self.engine.compute(f"gold_batch_{spec.name}", load_model(OUTPUTS[spec]), **params)
            writes[spec] = (f"gold_batch_{spec.name}", WriteScope.replace(scope.sql))
        with part("gates"):
            self._gate(batch_id, event_dates, {spec: relation for spec, (relation, _) in writes.items()})
        with part("delta write"):  # a blocking gate raised before
            written = self.engine.write_tables(self.lake, writes, Txn(GOLD_APP, batch_id))
        return GoldBatch(batch_id, event_dates, {s.name: self.engine.rows(r) for s, (r, _) in writes.items()}, written)

    def rebuild(self, event_dates: tuple[date, ...]) -> dict[str, int]:
        """Recompute these partitions from every committed Silver batch (a backfill)."""
        done = self.committed()
        predicate = f"batch_id <= {done} AND {_partition_predicate(event_dates)}"
        for spec in INPUTS:
            if not self.engine.read_table(self.lake, spec, f"silver_{spec.name}", predicate=predicate):
                raise ModelError(f"{spec.qualified} must exist before gold runs")
        self._register_products()
        for spec in OUTPUTS:  # nothing to fold into: the partitions are computed whole
            self.engine.register(f"prior_{spec.name}", _PRIOR[spec].empty_table())
        now = datetime.now(UTC)
        for spec, name in OUTPUTS.items():
            self.engine.compute(f"gold_batch_{spec.name}", load_model(name), updated_at=now)
        relations = {spec: f"gold_batch_{spec.name}" for spec in OUTPUTS}
        self._gate(done, event_dates, relations)
        for spec, relation in relations.items():
            self.engine.write_table(
                self.lake, spec, relation, WriteScope.replace(_partition_predicate(event_dates)), None
            )
        return {s.name: self.engine.rows(r) for s, r in relations.items()}

    def _gate(self, batch_id: int, event_dates: tuple[date, ...], outputs: dict[TableSpec, str]) -> None:
        if self.gate is None or not outputs:
            return
        partition = f"batch {batch_id}: " + (f"{event_dates[0]}..{event_dates[-1]}" if event_dates else "no dates")
        try:
            checked = []
            for spec, relation in outputs.items():
                self.engine.alias(f"check_{spec.name}", relation)
                checked += self.gate.check(spec.name, f"check_{spec.name}", partition)
            self.gate.enforce(checked, f"gold batch {batch_id}")
        finally:
            write_results(self.lake, self.gate.results)
            self.gate.results.clear()

    def _register_batch(self, batch_id: int, silver: dict[TableSpec, str] | None) -> None:
        """The batch's own Silver rows as the models' inputs, and the products they map to categories."""
        for spec in INPUTS:
            handed = silver.get(spec) if silver is not None else None
            if handed is not None:
                self.engine.alias(f"silver_{spec.name}", handed)
            elif not self.engine.read_table(self.lake, spec, f"silver_{spec.name}", predicate=f"batch_id = {batch_id}"):
                raise ModelError(f"{spec.qualified} must exist before gold runs")
        self._register_products()

    def _register_products(self) -> None:
        self.engine.read_table(self.lake, REF_PRODUCTS, "ref_products", columns=_EMPTY_PRODUCTS.names,
                               empty=_EMPTY_PRODUCTS, small=True)

    def _register_prior(self, spec: TableSpec, scope: _Scope) -> None:
        """The table's current rows in the scope the batch is folded into."""
        if scope.empty:
            self.engine.register(f"prior_{spec.name}", _PRIOR[spec].empty_table())
        else:
            self.engine.read_table(self.lake, spec, f"prior_{spec.name}", predicate=scope.sql,
                                   columns=_PRIOR[spec].names, empty=_PRIOR[spec])

    def _dates(self) -> tuple[date, ...]:
        """The event days of the batch's Silver rows (asked of the engine: a handful of values)."""
        union = " UNION ".join(f"SELECT DISTINCT event_date FROM silver_{spec.name}" for spec in INPUTS)  # noqa: S608 - table names from our specs
        found = self.engine.query(union, "gold batch days")["event_date"].to_pylist()
        return tuple(sorted(set(found) - {None}))

    def _scope(self, spec: TableSpec, event_dates: tuple[date, ...]) -> _Scope:
        """The rows of ``spec`` the batch can change, as a Delta predicate."""
        if spec != GOLD_SALES_BY_WINDOW:
            return _Scope(_partition_predicate(event_dates), not event_dates)
        bounds = self.engine.query("SELECT min(event_time) AS first, max(event_time) AS last FROM silver_order_lines",
                                   "gold window scope").to_pylist()[0]
        if bounds["first"] is None:
            return _Scope(_partition_predicate(()), True)
        days = tuple(
            sorted(
                d["event_date"]
                for d in self.engine.query(
                    "SELECT DISTINCT event_date FROM silver_order_lines WHERE event_date IS NOT NULL",
                    "gold window scope",
                ).to_pylist()
            )
        )
        # Every window a line falls in starts between the hour of the earliest line and the latest line.
        first = _utc(bounds["first"]).replace(minute=0, second=0, microsecond=0)
        last = _utc(bounds["last"])
        return _Scope(f"{_partition_predicate(days)} AND window_start >= '{first.isoformat()}'"
                      f" AND window_start <= '{last.isoformat()}'", False)


@dataclass(frozen=True)
class _Scope:
    """The rows of a gold table one batch can change, as a Delta predicate (``empty``: none)."""

    sql: str
    empty: bool


def _utc(instant: datetime) -> datetime:
    """An engine may return UTC instants without their zone (the session's); they are UTC."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


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
