"""The star schema, defined once. DDL for every dialect is generated from it with SQLGlot.

Each table lists its columns (types in PostgreSQL spelling, which SQLGlot maps to every target),
its primary key, foreign keys, secondary indexes, and the physical hints cloud warehouses need:
Redshift distribution and sort keys, BigQuery partitioning and clustering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

DIALECTS = ("duckdb", "postgres", "redshift", "bigquery")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class WarehouseTable:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    """(column, referenced table, referenced column)."""
    indexes: tuple[tuple[str, ...], ...] = ()
    distkey: str | None = None
    sortkey: tuple[str, ...] = ()
    partition_by: str | None = None
    cluster_by: tuple[str, ...] = ()
    date_column: str | None = None
    """Column that incremental and ranged loads replace by (aggregates)."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _cols(spec: str) -> tuple[Column, ...]:
    """'name TYPE [NOT NULL], ...' -> columns (compact to read, parsed once)."""
    out = []
    for part in re.split(r",(?![^(]*\))", spec):  # commas inside NUMERIC(18, 2) do not split
        words = part.split()
        not_null = words[-2:] == ["NOT", "NULL"]
        out.append(Column(words[0], " ".join(words[1:-2] if not_null else words[1:]), not not_null))
    return tuple(out)


DIM_DATE = WarehouseTable(
    "dim_date",
    _cols("date_key INTEGER NOT NULL, date DATE NOT NULL, year INTEGER, quarter INTEGER, month INTEGER,"
          "month_name TEXT, day_of_month INTEGER, day_of_week INTEGER, day_name TEXT, week_of_year INTEGER,"
          "day_of_year INTEGER, is_weekend BOOLEAN, is_holiday BOOLEAN, holiday_name TEXT,"
          "is_month_end BOOLEAN, year_month TEXT"),
    primary_key=("date_key",), sortkey=("date_key",),
)
DIM_CUSTOMER = WarehouseTable(
    "dim_customer",
    _cols("customer_key BIGINT NOT NULL, customer_id TEXT NOT NULL, signup_date DATE, region TEXT, segment TEXT"),
    primary_key=("customer_key",), indexes=(("customer_id",),), sortkey=("customer_key",),
)
DIM_STORE = WarehouseTable(
    "dim_store",
    _cols("store_key BIGINT NOT NULL, store_id TEXT NOT NULL, name TEXT, city TEXT, country TEXT, channel TEXT"),
    primary_key=("store_key",), indexes=(("store_id",),), sortkey=("store_key",),
)
DIM_PRODUCT = WarehouseTable(
    "dim_product",
    _cols("product_key BIGINT NOT NULL, product_id TEXT NOT NULL, name TEXT, category TEXT, brand TEXT,"
          "list_price NUMERIC(18, 2), valid_from TIMESTAMPTZ NOT NULL, valid_to TIMESTAMPTZ NOT NULL,"
          "is_current BOOLEAN NOT NULL"),
    primary_key=("product_key",), indexes=(("product_id", "valid_from"),), sortkey=("product_id", "valid_from"),
)
FACT_SALES = WarehouseTable(
    "fact_sales",
    _cols("order_id TEXT NOT NULL, line_number INTEGER NOT NULL, date_key INTEGER NOT NULL,"
          "product_key BIGINT NOT NULL, customer_key BIGINT NOT NULL, store_key BIGINT NOT NULL,"
          "channel TEXT, quantity BIGINT NOT NULL, unit_price NUMERIC(18, 2) NOT NULL,"
          "discount NUMERIC(18, 2) NOT NULL, revenue NUMERIC(18, 2) NOT NULL,"
          "event_time TIMESTAMPTZ NOT NULL, event_date DATE NOT NULL, silver_batch BIGINT NOT NULL, source TEXT"),
    primary_key=("order_id", "line_number"),
    foreign_keys=(("date_key", "dim_date", "date_key"), ("product_key", "dim_product", "product_key"),
                  ("customer_key", "dim_customer", "customer_key"), ("store_key", "dim_store", "store_key")),
    indexes=(("date_key",), ("product_key",), ("customer_key",), ("store_key",)),
    # Facts join customers most on their widest dimension; date ranges prune by the sort key.
    distkey="customer_key", sortkey=("event_date", "product_key"),
    partition_by="event_date", cluster_by=("product_key", "store_key"), date_column="event_date",
)
AGG_DAILY_SALES = WarehouseTable(
    "agg_daily_sales",
    _cols("event_date DATE NOT NULL, product_id TEXT NOT NULL, category TEXT, units BIGINT, revenue NUMERIC(18, 2),"
          "discount NUMERIC(18, 2), orders BIGINT, avg_unit_price DOUBLE PRECISION, discount_rate DOUBLE PRECISION"),
    primary_key=("event_date", "product_id"), distkey="product_id", sortkey=("event_date",),
    partition_by="event_date", cluster_by=("category", "product_id"), date_column="event_date",
)
AGG_CATEGORY_REVENUE = WarehouseTable(
    "agg_category_revenue",
    _cols("event_date DATE NOT NULL, category TEXT NOT NULL, revenue NUMERIC(18, 2), orders BIGINT, units BIGINT,"
          "avg_order_value DOUBLE PRECISION"),
    primary_key=("event_date", "category"), sortkey=("event_date",),
    partition_by="event_date", cluster_by=("category",), date_column="event_date",
)
AGG_FUNNEL_DAILY = WarehouseTable(
    "agg_funnel_daily",
    _cols("event_date DATE NOT NULL, category TEXT NOT NULL, views BIGINT, carts BIGINT, orders BIGINT,"
          "view_to_cart DOUBLE PRECISION, cart_to_order DOUBLE PRECISION, view_to_order DOUBLE PRECISION"),
    primary_key=("event_date", "category"), sortkey=("event_date",),
    partition_by="event_date", cluster_by=("category",), date_column="event_date",
)
DEMAND_PREDICTIONS = WarehouseTable(
    "demand_predictions",
    _cols("target_date DATE NOT NULL, product_id TEXT NOT NULL, category TEXT, horizon_days INTEGER NOT NULL,"
          "predicted_units DOUBLE PRECISION, lower_units DOUBLE PRECISION, upper_units DOUBLE PRECISION,"
          "model_version TEXT NOT NULL, forecast_date DATE"),
    primary_key=("target_date", "product_id", "horizon_days", "model_version"), sortkey=("target_date",),
    partition_by="target_date", cluster_by=("product_id",), date_column="target_date",
)
ETL_WATERMARKS = WarehouseTable(
    "etl_watermarks",
    _cols("table_name TEXT NOT NULL, batch_id BIGINT NOT NULL, loaded_at TIMESTAMPTZ"),
    primary_key=("table_name",),
)

DIMENSIONS = (DIM_DATE, DIM_CUSTOMER, DIM_STORE, DIM_PRODUCT)
AGGREGATES = (AGG_DAILY_SALES, AGG_CATEGORY_REVENUE, AGG_FUNNEL_DAILY, DEMAND_PREDICTIONS)
TABLES = (*DIMENSIONS, FACT_SALES, *AGGREGATES, ETL_WATERMARKS)
TABLE_BY_NAME = {t.name: t for t in TABLES}


def create_table(table: WarehouseTable, dialect: str, *, schema: str | None = None) -> str:
    """CREATE TABLE for one dialect, from the single definition."""
    columns = ", ".join(f"{c.name} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in table.columns)
    constraints = ""
    if dialect in ("postgres", "redshift", "duckdb"):
        constraints += f", PRIMARY KEY ({', '.join(table.primary_key)})"
    if dialect in ("postgres", "redshift"):  # DuckDB FKs block upserts of referenced rows
        for column, ref_table, ref_column in table.foreign_keys:
            constraints += f", FOREIGN KEY ({column}) REFERENCES {ref_table} ({ref_column})"
    name = f"{schema}.{table.name}" if schema else table.name
    create = sqlglot.parse_one(f"CREATE TABLE IF NOT EXISTS {name} ({columns}{constraints})", read="postgres")
    properties = _physical_properties(table, dialect)
    if properties:
        create.set("properties", exp.Properties(expressions=properties))
    return create.sql(dialect=dialect)


def _physical_properties(table: WarehouseTable, dialect: str) -> list[exp.Expression]:
    props: list[exp.Expression] = []
    if dialect == "redshift":
        if table.distkey:
            props.append(exp.DistKeyProperty(this=exp.to_identifier(table.distkey)))
        elif table.name.startswith("dim_"):
            props.append(exp.DistStyleProperty(this=exp.Var(this="ALL")))  # small dims on every node
        if table.sortkey:
            props.append(exp.SortKeyProperty(this=[exp.to_identifier(c) for c in table.sortkey], compound=True))
    if dialect == "bigquery":
        if table.partition_by:
            props.append(exp.PartitionedByProperty(this=exp.column(table.partition_by)))
        if table.cluster_by:
            props.append(exp.Cluster(expressions=[exp.column(c) for c in table.cluster_by]))
    return props


def create_indexes(table: WarehouseTable, dialect: str) -> list[str]:
    if dialect not in ("postgres", "duckdb"):
        return []  # Redshift and BigQuery have no secondary indexes: sort keys and clustering instead
    return [
        sqlglot.parse_one(
            f"CREATE INDEX IF NOT EXISTS ix_{table.name}_{'_'.join(cols)} ON {table.name} ({', '.join(cols)})",
            read="postgres",
        ).sql(dialect=dialect)
        for cols in table.indexes
    ]


def ddl(dialect: str, *, schema: str | None = None) -> list[str]:
    statements = []
    for table in TABLES:
        statements.append(create_table(table, dialect, schema=schema))
        statements.extend(create_indexes(table, dialect))
    return statements


def load_statements(dialect: str, location: str, *, iam_role: str = "arn:aws:iam::123456789012:role/salesflow-load",
                    dataset: str = "salesflow") -> list[str]:
    """Bulk-load statements for Parquet exports under ``location/<table>/`` (Redshift, BigQuery)."""
    out = []
    for table in TABLES:
        if table is ETL_WATERMARKS:
            continue
        path = f"{location.rstrip('/')}/{table.name}/"
        if dialect == "redshift":
            text = f"COPY {table.name} FROM '{path}' IAM_ROLE '{iam_role}' FORMAT AS PARQUET"
        elif dialect == "bigquery":
            text = (f"LOAD DATA INTO {dataset}.{table.name} FROM FILES "
                    f"(format = 'PARQUET', uris = ['{path}*.parquet'])")
        else:
            continue
        sqlglot.parse_one(text, read=dialect)  # fail here, not in the user's warehouse
        out.append(text)
    return out
