"""Warehouse DDL for every dialect comes from one definition and parses in that dialect."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlglot
from sqlglot import exp

from salesflow.warehouse.schema import DIALECTS, FACT_SALES, TABLES, ddl, load_statements


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_statement_parses_in_its_dialect(dialect: str) -> None:
    statements = ddl(dialect) + load_statements(dialect, "s3://bucket/exports" if dialect == "redshift"
                                                else "gs://bucket/exports")
    creates = 0
    for statement in statements:
        parsed = sqlglot.parse_one(statement, read=dialect)
        creates += isinstance(parsed, exp.Create) and parsed.kind == "TABLE"
    assert creates == len(TABLES)


def test_redshift_and_bigquery_physical_design() -> None:
    redshift = next(s for s in ddl("redshift") if "fact_sales" in s and s.startswith("CREATE TABLE"))
    assert "DISTKEY(customer_key)" in redshift and "SORTKEY(event_date, product_key)" in redshift
    assert "FOREIGN KEY (product_key) REFERENCES dim_product" in redshift
    dim = next(s for s in ddl("redshift") if "dim_store" in s and s.startswith("CREATE TABLE"))
    assert "DISTSTYLE ALL" in dim
    bigquery = next(s for s in ddl("bigquery") if "fact_sales" in s and s.startswith("CREATE TABLE"))
    assert "PARTITION BY event_date" in bigquery and "CLUSTER BY product_key, store_key" in bigquery
    assert "PRIMARY KEY" not in bigquery  # BigQuery keys are not enforced: none are emitted


def test_load_statements_point_at_parquet() -> None:
    [copy] = [s for s in load_statements("redshift", "s3://b/x") if "fact_sales" in s]
    assert copy.startswith("COPY fact_sales FROM 's3://b/x/fact_sales/'") and "PARQUET" in copy
    [load] = [s for s in load_statements("bigquery", "gs://b/x") if "fact_sales" in s]
    assert "LOAD DATA INTO salesflow.fact_sales" in load and "gs://b/x/fact_sales/*.parquet" in load


def test_all_columns_of_the_definition_are_in_each_dialect() -> None:
    for dialect in DIALECTS:
        create = next(s for s in ddl(dialect) if s.startswith("CREATE TABLE IF NOT EXISTS fact_sales"))
        columns = [c.name for c in sqlglot.parse_one(create, read=dialect).find_all(exp.ColumnDef)]
        assert columns == FACT_SALES.column_names


def test_cli_prints_ddl(tmp_path: object) -> None:
    result = subprocess.run([sys.executable, "-m", "salesflow", "warehouse", "ddl", "--dialect", "redshift",
                             "--location", "s3://b/x"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.count("CREATE TABLE") == len(TABLES)
    assert "COPY fact_sales" in result.stdout
