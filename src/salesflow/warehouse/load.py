"""Lake -> star schema, incremental by default, exactly once per Silver/Gold batch.

Step 1. Create the schema if needed (tables, indexes, unknown members, BI views).
Step 2. Dimensions: stores and customers (type 1), products (type 2), calendar days.
Step 3. Facts: Silver order lines of batches after the fact watermark, keys resolved in the
        target, inserted and the watermark moved in one transaction.
Step 4. Aggregates: the event dates touched since each aggregate's watermark are replaced
        (delete + insert) with the watermark, again in one transaction.
``--full`` empties every table first; ``--from/--to`` reloads a date range without moving
watermarks. Either way a rerun changes nothing: facts are keyed, aggregates are replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.common.calendar import dim_date_rows
from salesflow.config import Settings
from salesflow.engine.base import EngineAdapter
from salesflow.gold.aggregate import gold_committed
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    GOLD_CATEGORY_REVENUE,
    GOLD_DAILY_SALES,
    GOLD_DEMAND_PREDICTIONS,
    GOLD_FUNNEL_DAILY,
    REF_CUSTOMERS,
    REF_PRODUCTS,
    REF_STORES,
    SILVER_EVENT_TABLES,
    SILVER_ORDER_LINES,
    TableSpec,
)
from salesflow.models import Model, load_model, sql_resource
from salesflow.quality.gate import QualityGate
from salesflow.quality.results import write_results
from salesflow.silver.process import silver_committed
from salesflow.warehouse import schema
from salesflow.warehouse.targets.base import WarehouseTarget
from salesflow.warehouse.targets.postgres import PostgresTarget
from salesflow.warehouse.worker_stage import staged_on_workers, stages_on_workers

log = logging.getLogger(__name__)
AGGREGATE_SOURCES: dict[str, TableSpec] = {
    "agg_daily_sales": GOLD_DAILY_SALES,
    "agg_category_revenue": GOLD_CATEGORY_REVENUE,
    "agg_funnel_daily": GOLD_FUNNEL_DAILY,
    "demand_predictions": GOLD_DEMAND_PREDICTIONS,
}
EPOCH_START = datetime(1900, 1, 1, tzinfo=UTC)


_DIM_COLUMNS = {
    "dim_customer": ["customer_id", "signup_date", "region", "segment"],
    "dim_store": ["store_id", "name", "city", "country", "channel"],
    "dim_product": ["product_id", "name", "category", "brand", "list_price"],
}


def warehouse_sql(name: str) -> str:
    return sql_resource("salesflow.warehouse", "sql", name)


@dataclass(frozen=True)
class LoadResult:
    target: str
    mode: str
    staged: dict[str, int]
    totals: dict[str, int]
    silver_lines: int
    """Silver order lines up to the fact watermark: fact_sales must hold exactly these."""
    seconds: float

    @property
    def reconciled(self) -> bool:
        return self.totals.get("fact_sales", 0) == self.silver_lines


class WarehouseLoader:
    def __init__(self, settings: Settings, lake: Lake, engine: EngineAdapter, target: WarehouseTarget,
                 gate: QualityGate | None = None) -> None:
        self.settings, self.lake, self.engine, self.target, self.gate = settings, lake, engine, target, gate
        self.staged: dict[str, int] = {}

    def load(self, *, full: bool = False, date_from: date | None = None, date_to: date | None = None) -> LoadResult:
        clock = time.perf_counter()
        ranged = date_from is not None or date_to is not None
        self.ensure_schema()  # Step 1.
        if full:
            self._empty_all()
        self._load_dimensions()  # Step 2.
        silver_done = silver_committed(self.lake)
        window = (date_from or date.min, date_to or date.max) if ranged else None
        try:
            self._load_facts(silver_done, window)  # Step 3.
        finally:
            if self.gate is not None:
                write_results(self.lake, self.gate.results)
                self.gate.results.clear()
        gold_done = gold_committed(self.lake)
        for table_name, source in AGGREGATE_SOURCES.items():  # Step 4.
            if source is GOLD_DEMAND_PREDICTIONS:
                self._load_predictions(full)
            else:
                self._load_aggregate(table_name, source, gold_done, window)
        mode = "full" if full else "range" if ranged else "incremental"
        return LoadResult(self.target.description, mode, dict(self.staged), self._totals(),
                          self._silver_lines(), time.perf_counter() - clock)

    def ensure_schema(self) -> None:
        for statement in schema.ddl(self.target.DIALECT):
            self.target.execute(statement)
        self.target.run(warehouse_sql("unknown_members"))
        # Views are DDL, which takes no bound parameters: the zone is rendered in as a literal.
        views = Model("warehouse.views", warehouse_sql("views"))
        self.target.run(views.render(reporting_timezone=self.settings.pipeline.reporting_timezone))

    def _empty_all(self) -> None:
        with self.target.transaction():
            for table in (schema.FACT_SALES, *schema.AGGREGATES, *schema.DIMENSIONS, schema.ETL_WATERMARKS):
                self.target.run(f"DELETE FROM {table.name}")  # noqa: S608 - table and column names from warehouse.schema
            self.target.run(warehouse_sql("unknown_members"))

    def _load_dimensions(self) -> None:
        with self.target.transaction():
            # Only the attributes the dimensions hold: a partner's own (kept in the lake) stay there.
            for name, spec, table in (("stage_customers", REF_CUSTOMERS, "dim_customer"),
                                      ("stage_stores", REF_STORES, "dim_store")):
                if self._stage(name, self.lake.read(spec, columns=_DIM_COLUMNS[table]), table):
                    self.target.run(warehouse_sql(f"merge_{table}"))
            if self._stage("stage_products", self.lake.read(REF_PRODUCTS, columns=_DIM_COLUMNS["dim_product"]),
                           "dim_product"):
                self.target.run(warehouse_sql("merge_dim_product"), {"changed_at": self._products_changed_at()})
            span = self._event_date_span()
            if span is not None:
                self._stage("stage_dim_date", dim_date_rows(date(span[0].year, 1, 1), date(span[1].year, 12, 31)),
                            "dim_date")
                self.target.run(warehouse_sql("upsert_dim_date"))

    def _products_changed_at(self) -> datetime:
        """When the current product snapshot was published: the time a type-2 change takes effect."""
        return datetime.fromtimestamp(int(self.lake.last_commit_metadata(REF_PRODUCTS)["timestamp"]) / 1000, UTC)

    def _event_date_span(self) -> tuple[date, date] | None:
        dates = self.lake.read(SILVER_ORDER_LINES, columns=["event_date"])
        if dates is None or dates.num_rows == 0:
            return None
        bounds = pc.min_max(dates["event_date"]).as_py()
        return bounds["min"], bounds["max"] + timedelta(days=31)  # room for next-month forecasts

    def _load_facts(self, silver_done: int, window: tuple[date, date] | None) -> None:
        with self._fact_rows(silver_done, window) as stage:
            if stage is None:
                return
            with self.target.transaction():
                self.staged["fact_sales"] = self.staged.get("fact_sales", 0) + stage()
                self.target.run(warehouse_sql("inferred_members"))
                self.target.run(warehouse_sql("insert_fact_sales"))
                if window is None:
                    self._gate_facts(silver_done)  # raises inside the transaction: nothing is promoted
                    self._set_watermark("fact_sales", silver_done)

    @contextmanager
    def _fact_rows(self, silver_done: int, window: tuple[date, date] | None) -> Iterator[Callable[[], int] | None]:
        """What stages the facts to load (temp table ``stage_fact_sales``, its row count), or None
        when Silver has no order lines. The engine reads the lines and runs the staging model; on
        Spark into PostgreSQL the executors COPY the facts themselves, else they pass through here."""
        model = load_model("warehouse.stage_fact_sales")
        predicate = f"batch_id <= {silver_done} AND " + (
            f"batch_id > {self._watermark('fact_sales')}" if window is None else
            f"event_date >= DATE '{window[0].isoformat()}' AND event_date <= DATE '{window[1].isoformat()}'")
        if not self.engine.read_table(self.lake, SILVER_ORDER_LINES, "silver_order_lines", predicate=predicate):
            yield None
        elif stages_on_workers(self.engine, self.target):
            assert isinstance(self.target, PostgresTarget)  # noqa: S101 - type narrowing
            with staged_on_workers(self.engine, self.target, "stage_fact_sales", model) as stage:
                yield stage
        else:
            rows = self.engine.run(model)
            yield lambda: self._stage_rows("stage_fact_sales", rows)

    def _stage_rows(self, name: str, rows: pa.Table) -> int:
        self.target.stage(name, rows)
        return rows.num_rows

    def _gate_facts(self, silver_done: int) -> None:
        """Silver -> warehouse reconciliation: every Silver order line up to the batch is one fact."""
        if self.gate is None:
            return
        dataset = self.lake.dataset(SILVER_ORDER_LINES)
        expected = 0 if dataset is None else dataset.count_rows(filter=ds.field("batch_id") <= silver_done)
        loaded = self.target.select("SELECT count(*) AS n FROM fact_sales")["n"][0].as_py()
        check = self.gate.record("fact_sales", f"silver batches <= {silver_done}", "reconcile_silver_warehouse",
                                 "reconciliation", "fail", abs(loaded - expected),
                                 [{"silver_order_lines": expected, "fact_sales": loaded}])
        self.gate.enforce([check], "warehouse load")

    def _load_aggregate(self, table_name: str, source: TableSpec, gold_done: int,
                        window: tuple[date, date] | None) -> None:
        table = schema.TABLE_BY_NAME[table_name]
        column = table.date_column or "event_date"
        if not self.lake.exists(source):
            return
        dates = self._dates_since(self._watermark(table_name), gold_done) if window is None else None
        if window is None and not dates:
            return
        keep = ds.field(column).isin(dates) if dates is not None else (
            (ds.field(column) >= window[0]) & (ds.field(column) <= window[1]))  # type: ignore[index]
        rows = self.lake.read(source, columns=table.column_names, filter=keep)
        assert rows is not None  # noqa: S101 - type narrowing
        scope = pa.table({"d": pa.array(dates, pa.date32())}) if dates is not None else None
        with self.target.transaction():
            self._stage(f"stage_{table_name}", rows, table_name)
            if scope is not None:
                self._stage("stage_dates", scope)
                self.target.run(f"DELETE FROM {table_name} WHERE {column} IN (SELECT d FROM stage_dates)")  # noqa: S608 - table and column names from warehouse.schema
            else:
                self.target.run(f"DELETE FROM {table_name} WHERE {column} BETWEEN $date_from AND $date_to",  # noqa: S608 - table and column names from warehouse.schema
                                {"date_from": window[0], "date_to": window[1]})  # type: ignore[index]
            self.target.run(f"INSERT INTO {table_name} ({', '.join(table.column_names)}) "  # noqa: S608 - table and column names from warehouse.schema
                            f"SELECT {', '.join(table.column_names)} FROM stage_{table_name}")
            if dates is not None:
                self._set_watermark(table_name, gold_done)

    def _load_predictions(self, full: bool) -> None:
        """Forecasts are for future days no Silver batch touches: reload them when the table changed.

        The watermark is the gold table's Delta version; the table is small (days x products x
        horizons per forecast), so a changed version replaces the warehouse copy in one transaction."""
        version = self.lake.version(GOLD_DEMAND_PREDICTIONS)
        if version is None or (not full and self._watermark("demand_predictions") == version):
            return
        table = schema.TABLE_BY_NAME["demand_predictions"]
        rows = self.lake.read(GOLD_DEMAND_PREDICTIONS, columns=table.column_names)
        assert rows is not None  # noqa: S101 - type narrowing
        with self.target.transaction():
            self._stage("stage_demand_predictions", rows, "demand_predictions")
            self.target.run("DELETE FROM demand_predictions")
            self.target.run(f"INSERT INTO demand_predictions ({', '.join(table.column_names)}) "  # noqa: S608 - table and column names from warehouse.schema
                            f"SELECT {', '.join(table.column_names)} FROM stage_demand_predictions")
            self._set_watermark("demand_predictions", version)

    def _dates_since(self, after: int, upto: int) -> list[date]:
        """event_dates of Silver rows in batches (after, upto]: the gold partitions rebuilt since."""
        keep = (ds.field("batch_id") > after) & (ds.field("batch_id") <= upto)
        return self.lake.distinct(SILVER_EVENT_TABLES, "event_date", keep)

    def _stage(self, name: str, rows: pa.Table | None, table: str | None = None) -> bool:
        """Bulk-load rows into a temp table; count them against warehouse ``table`` when given."""
        if rows is None:
            return False
        self.target.stage(name, rows)
        if table is not None:
            self.staged[table] = self.staged.get(table, 0) + rows.num_rows
        return True

    def _watermark(self, table_name: str) -> int:
        found = self.target.select("SELECT batch_id FROM etl_watermarks WHERE table_name = $name",
                                   {"name": table_name})
        return found["batch_id"][0].as_py() if found.num_rows else -1

    def _set_watermark(self, table_name: str, batch_id: int) -> None:
        self.target.run(
            "INSERT INTO etl_watermarks (table_name, batch_id, loaded_at) VALUES ($name, $batch, $now) "
            "ON CONFLICT (table_name) DO UPDATE SET batch_id = EXCLUDED.batch_id, loaded_at = EXCLUDED.loaded_at",
            {"name": table_name, "batch": batch_id, "now": datetime.now(UTC)})

    def _totals(self) -> dict[str, int]:
        return {t.name: self.target.select(f"SELECT count(*) AS n FROM {t.name}")["n"][0].as_py()  # noqa: S608 - table and column names from warehouse.schema
                for t in schema.TABLES}

    def _silver_lines(self) -> int:
        done = self._watermark("fact_sales")
        dataset = self.lake.dataset(SILVER_ORDER_LINES)
        return 0 if dataset is None else dataset.count_rows(filter=ds.field("batch_id") <= done)
