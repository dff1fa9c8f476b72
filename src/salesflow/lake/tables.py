"""Every table of the lake, in one place: layer, name and partitioning."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    partition_by: tuple[str, ...] = ()
    zorder: tuple[str, ...] = ()
    """Columns to cluster files by in maintenance: the filters queries use most within a partition."""
    unique: tuple[str, ...] = ()
    """Columns whose values (almost) never repeat: written without a Parquet dictionary, which
    would only be built and thrown away (a third of a Bronze write went to the payload's), and
    without min/max statistics, which nothing prunes on."""

    @property
    def qualified(self) -> str:
        return f"{self.layer}.{self.name}"

    def uri(self, root: str) -> str:
        return f"{root.rstrip('/')}/{self.layer}/{self.name}"


BRONZE_EVENTS = TableSpec("bronze", "events", unique=("payload", "source_position"))

_EVENT_KEYS = ("event_id", "source_position")
SILVER_ORDERS = TableSpec("silver", "orders", ("event_date",), unique=(*_EVENT_KEYS, "order_id"))
SILVER_ORDER_LINES = TableSpec("silver", "order_lines", ("event_date",), ("product_id", "store_id"),
                               unique=("event_id", "order_id"))
SILVER_PRODUCT_VIEWS = TableSpec("silver", "product_views", ("event_date",), unique=(*_EVENT_KEYS, "session_id"))
SILVER_CART_ADDS = TableSpec("silver", "cart_adds", ("event_date",), unique=(*_EVENT_KEYS, "session_id"))
QUARANTINE = TableSpec("silver", "quarantine", unique=("payload",))
DUPLICATES = TableSpec("silver", "duplicates")

REF_PRODUCTS = TableSpec("reference", "products")
REF_CUSTOMERS = TableSpec("reference", "customers")
REF_STORES = TableSpec("reference", "stores")
REFERENCE_TABLES = {"products": REF_PRODUCTS, "customers": REF_CUSTOMERS, "stores": REF_STORES}

GOLD_SALES_BY_WINDOW = TableSpec("gold", "sales_by_window", ("event_date",), ("category", "store_id"))
GOLD_DAILY_SALES = TableSpec("gold", "daily_sales", ("event_date",))
GOLD_CATEGORY_REVENUE = TableSpec("gold", "category_revenue", ("event_date",))
GOLD_FUNNEL_DAILY = TableSpec("gold", "funnel_daily", ("event_date",))
GOLD_DEMAND_PREDICTIONS = TableSpec("gold", "demand_predictions", ("target_date",))

PIPELINE_RUNS = TableSpec("ops", "pipeline_runs")
QUALITY_RESULTS = TableSpec("ops", "quality_results")

# Silver tables that hold one row per accepted event (reconciliation counts these).
SILVER_EVENT_TABLES = (SILVER_ORDERS, SILVER_PRODUCT_VIEWS, SILVER_CART_ADDS)
SILVER_TABLES = (*SILVER_EVENT_TABLES, SILVER_ORDER_LINES, QUARANTINE, DUPLICATES)
GOLD_TABLES = (GOLD_SALES_BY_WINDOW, GOLD_DAILY_SALES, GOLD_CATEGORY_REVENUE, GOLD_FUNNEL_DAILY)
ALL_TABLES = (BRONZE_EVENTS, *SILVER_TABLES, *REFERENCE_TABLES.values(), *GOLD_TABLES, GOLD_DEMAND_PREDICTIONS,
              PIPELINE_RUNS, QUALITY_RESULTS)
