"""Silver -> Gold. Each batch recomputes the event_date partitions it touched, from all of Silver.

Recomputing whole partitions (instead of adding deltas) makes the write a replace-where that is
correct however often it runs, and lets late events land in the windows they belong to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

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

    def dates_of(self, batch_id: int) -> tuple[date, ...]:
        """event_date partitions a Silver batch touched: from the Delta log's per-file batch_id
        range, so no data is read. A compacted file that spans several batches can add a date the
        batch did not touch; rebuilding that date again is harmless."""
        dates: set[date] = set()
        for spec in SILVER_EVENT_TABLES:
            files = _files_holding(self.lake, spec, range(batch_id, batch_id + 1))
            if files is None:
                dates |= set(self.lake.distinct((spec,), "event_date", ds.field("batch_id") == batch_id))
            elif files.num_rows:
                dates |= set(files["partition.event_date"].to_pylist())
        return tuple(sorted(dates - {None}))

    def build(self, batch_id: int) -> GoldBatch:
        """Rebuild the partitions Silver batch ``batch_id`` touched, from Silver up to that batch."""
        event_dates = self.dates_of(batch_id)
        self._register_inputs(batch_id, event_dates)
        params = {"updated_at": datetime.now(UTC)}
        predicate = _partition_predicate(event_dates)
        outputs = {spec: self.engine.run(load_model(name), **params) for spec, name in OUTPUTS.items()}
        self._gate(batch_id, event_dates, outputs)  # a blocking rule stops every gold write of the batch
        written = sum(self.lake.replace_where(spec, table, predicate, app_id=GOLD_APP, version=batch_id)
                      for spec, table in outputs.items())
        return GoldBatch(batch_id, event_dates, {s.name: t.num_rows for s, t in outputs.items()}, written)

    def rebuild(self, event_dates: tuple[date, ...]) -> dict[str, int]:
        """Recompute these partitions from every committed Silver batch (a backfill)."""
        done = self.committed()
        self._register_inputs(done, event_dates)
        outputs = {spec: self.engine.run(load_model(name), updated_at=datetime.now(UTC)) for spec, name in OUTPUTS.items()}
        self._gate(done, event_dates, outputs)
        for spec, table in outputs.items():
            self.lake.replace_rows(spec, table, _partition_predicate(event_dates))
        return {s.name: t.num_rows for s, t in outputs.items()}

    def _gate(self, batch_id: int, event_dates: tuple[date, ...], outputs: dict[TableSpec, pa.Table]) -> None:
        if self.gate is None:
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

    def _register_inputs(self, batch_id: int, event_dates: tuple[date, ...]) -> None:
        keep = (ds.field("batch_id") <= batch_id) & ds.field("event_date").isin(list(event_dates))
        prune = f"batch_id <= {batch_id} AND {_partition_predicate(event_dates)}"
        for spec in INPUTS:
            self.engine.register(f"silver_{spec.name}", self.lake.read(spec, filter=keep, prune=prune))
        products = self.lake.read(REF_PRODUCTS, columns=["product_id", "category"])
        self.engine.register("ref_products", products if products is not None else _EMPTY_PRODUCTS.empty_table())


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
