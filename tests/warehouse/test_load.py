"""Loading the star schema into DuckDB and into a real PostgreSQL server."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from salesflow.analytics import run_query
from salesflow.config import Settings, load_settings
from salesflow.contract.reference import reference_lines
from salesflow.errors import TransientError
from salesflow.jobs import run_batch
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_ORDER_LINES
from salesflow.redact import redact
from salesflow.simulator import SimulationSpec, build_catalog
from salesflow.sources.landing import LandingLog
from salesflow.warehouse.targets import connect
from salesflow.warehouse.targets.postgres import PostgresTarget
from tests.conftest import land
from tests.pg import new_database


def snapshot(settings: Settings) -> dict[str, object]:
    """Row counts, revenue and key sums of every warehouse table: enough to see any change."""
    with connect(settings) as target:
        out: dict[str, object] = {}
        for table in ("dim_date", "dim_customer", "dim_store", "dim_product", "agg_daily_sales",
                      "agg_category_revenue", "agg_funnel_daily"):
            out[table] = target.select(f"SELECT count(*) AS n FROM {table}")["n"][0].as_py()
        facts = target.select("SELECT count(*) AS n, sum(revenue) AS revenue, sum(product_key) AS pk, "
                              "sum(customer_key) AS ck, sum(quantity) AS units FROM fact_sales")
        out["fact_sales"] = tuple(facts.to_pylist()[0].values())
        agg = target.select("SELECT sum(revenue) AS r, sum(units) AS u FROM agg_category_revenue")
        out["agg_totals"] = tuple(agg.to_pylist()[0].values())
    return out


def silver_lines(settings: Settings) -> pa.Table:
    table = Lake(settings.lake_root).read(SILVER_ORDER_LINES)
    assert table is not None
    return table


@pytest.mark.parametrize("which", ["duck", "pg"])
def test_load_reconciles_and_rerun_changes_nothing(which: str, request: pytest.FixtureRequest) -> None:
    settings: Settings = request.getfixturevalue(which)
    first = load_warehouse(settings)
    lines = silver_lines(settings)
    assert first.reconciled and first.totals["fact_sales"] == lines.num_rows > 500
    before = snapshot(settings)
    facts = before["fact_sales"]
    assert isinstance(facts, tuple) and Decimal(facts[1]) == sum(lines["revenue"].to_pylist())
    again = load_warehouse(settings)
    assert again.staged.get("fact_sales", 0) == 0
    assert snapshot(settings) == before


@pytest.mark.parametrize("which", ["duck", "pg"])
def test_overlapping_ranges_do_not_duplicate(which: str, request: pytest.FixtureRequest) -> None:
    settings: Settings = request.getfixturevalue(which)
    load_warehouse(settings)
    before = snapshot(settings)
    from datetime import date

    load_warehouse(settings, date_from=date(2026, 8, 1), date_to=date(2026, 8, 31))
    load_warehouse(settings, date_from=date(2026, 8, 15), date_to=date(2026, 9, 10))
    assert snapshot(settings) == before


def test_duckdb_and_postgres_hold_the_same_star(duck: Settings, pg: Settings) -> None:
    load_warehouse(duck)
    load_warehouse(pg)
    assert snapshot(duck) == snapshot(pg)


def test_every_fact_has_dimension_members(pg: Settings) -> None:
    load_warehouse(pg)
    with connect(pg) as target:
        orphans = target.select(
            "SELECT count(*) AS n FROM fact_sales f LEFT JOIN dim_product p ON p.product_key = f.product_key "
            "LEFT JOIN dim_customer c ON c.customer_key = f.customer_key "
            "WHERE p.product_key IS NULL OR c.customer_key IS NULL")
        unknown = target.select("SELECT count(*) AS n FROM fact_sales WHERE product_key = -1 OR store_key = -1")
    assert orphans["n"][0].as_py() == 0 and unknown["n"][0].as_py() == 0


def test_incremental_load_takes_only_new_batches(tmp_path: Path, postgres_admin_url: str) -> None:
    settings = load_settings(data_dir=tmp_path / "d", warehouse={"url": new_database(postgres_admin_url)})
    records = land(settings, SimulationSpec(events=4_000, seed=3, days=6))
    run_batch(settings)
    first = load_warehouse(settings)
    more = land(settings, SimulationSpec(events=3_000, seed=4, days=6))
    run_batch(settings)
    second = load_warehouse(settings)
    new_lines = silver_lines(settings).num_rows - first.totals["fact_sales"]
    assert records and more and new_lines > 0
    assert second.staged["fact_sales"] == new_lines and second.reconciled
    assert second.totals["fact_sales"] == first.totals["fact_sales"] + new_lines


def test_full_rebuild_matches_incremental(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    land(settings, SimulationSpec(events=3_000, seed=8, days=5))
    run_batch(settings)
    load_warehouse(settings)
    incremental = snapshot(settings)
    rebuilt = load_warehouse(settings, full=True)
    assert rebuilt.mode == "full" and rebuilt.reconciled
    assert snapshot(settings) == incremental


def test_price_or_category_change_makes_a_new_version(tmp_path: Path, postgres_admin_url: str) -> None:
    settings = load_settings(data_dir=tmp_path / "d", warehouse={"url": new_database(postgres_admin_url)})
    land(settings, SimulationSpec(events=3_000, seed=5, days=4))
    run_batch(settings)
    load_warehouse(settings)
    catalog = build_catalog(5)
    changed = [p.model_copy(update={"list_price": p.list_price + 1}) if p.product_id == "P00001" else
               p.model_copy(update={"category": "outlet"}) if p.product_id == "P00002" else
               p.model_copy(update={"name": "Renamed"}) if p.product_id == "P00003" else p
               for p in catalog.products]
    landing = LandingLog(settings.landing_dir)
    landing.write_reference("products", reference_lines(changed))
    run_batch(settings)  # publishes the new reference snapshot
    load_warehouse(settings)
    load_warehouse(settings)  # a rerun must not open yet another version
    with connect(settings) as target:
        versions = target.select(
            "SELECT product_id, list_price, category, name, is_current, valid_from, valid_to FROM dim_product "
            "WHERE product_id IN ('P00001', 'P00002', 'P00003') ORDER BY product_id, valid_from").to_pylist()
        stale_facts = target.select(
            "SELECT count(*) AS n FROM fact_sales f JOIN dim_product p ON p.product_key = f.product_key "
            "WHERE NOT (f.event_time >= p.valid_from AND f.event_time < p.valid_to)")
    by_id: dict[str, list[dict]] = {}
    for row in versions:
        by_id.setdefault(row["product_id"], []).append(row)
    for product_id in ("P00001", "P00002"):
        old, new = by_id[product_id]
        assert not old["is_current"] and new["is_current"] and old["valid_to"] == new["valid_from"]
    assert by_id["P00001"][1]["list_price"] == by_id["P00001"][0]["list_price"] + 1
    assert by_id["P00002"][1]["category"] == "outlet"
    assert len(by_id["P00003"]) == 1 and by_id["P00003"][0]["name"] == "Renamed"  # type 1 attribute
    assert stale_facts["n"][0].as_py() == 0


def test_password_never_shown(postgres_admin_url: str) -> None:
    url = postgres_admin_url.replace("postgres@", "postgres:s3cret-pw@")
    assert "s3cret-pw" not in redact(url) and ":***@" in redact(url)
    with pytest.raises(TransientError) as info:
        PostgresTarget("postgresql://postgres:s3cret-pw@127.0.0.1:1/postgres")  # nobody listens on port 1
    assert "s3cret-pw" not in str(info.value) and "***" in str(info.value)


def test_load_json_output(duck: Settings) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(duck.data_dir),
                             "warehouse", "load", "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["reconciled"] and facts["totals"]["fact_sales"] > 0

    # JSON keeps numeric types (#29): revenue is a number, as exact as the warehouse holds it.
    answer = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(duck.data_dir), "query",
                             "top_categories", "--format", "json"], capture_output=True, text=True, timeout=300)
    assert answer.returncode == 0, answer.stderr
    rows = json.loads(answer.stdout, parse_float=Decimal)
    assert rows and all(isinstance(v, (int, Decimal)) for r in rows for k, v in r.items() if k != "category")
    assert all(r["revenue"] == r["revenue"].quantize(Decimal("0.01")) for r in rows)  # money: cents, exact


def test_postgres_constraints_exist(pg: Settings) -> None:
    load_warehouse(pg)
    url = pg.warehouse.url.get_secret_value()  # type: ignore[union-attr]
    with psycopg.connect(url) as conn:
        kinds = dict(conn.execute(
            "SELECT contype, count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE t.relname = 'fact_sales' GROUP BY contype").fetchall())
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'fact_sales'").fetchone()
    assert kinds.get("p") == 1 and kinds.get("f") == 4 and indexes is not None and indexes[0] >= 5


def test_customers_and_stores_seen_only_in_facts_are_inferred_members(tmp_path: Path,
                                                                       postgres_admin_url: str) -> None:
    """A partner source with no reference files: its customers and store become dimension members
    (before, every fact got key -1 and cohorts, RFM and a store filter came back empty). Reference
    data arriving later fills the attributes in place; keys and facts stay."""
    from salesflow.bronze.file_ingest import FileIngestor
    from salesflow.contract.reference import Store
    from tests.sources.test_partner_files import SHOP

    lines = ["Bestellung;Kunde;Datum;Artikel;Menge;Preis"]
    for i in range(12):
        lines.append(f"P{i};K{i % 3};{1 + i % 28:02d}.{8 + i % 2:02d}.2026 10:00;Tisch;1;10,00")
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(lines) + "\n")
    for url in (None, new_database(postgres_admin_url)):
        settings = load_settings(data_dir=tmp_path / f"d{url is None}", files={"shop": SHOP},
                                 warehouse={"url": url})
        run_batch(settings, bronze=lambda lake, engine, s=settings: FileIngestor(lake, engine, s, "shop", [orders]))
        load_warehouse(settings)
        with connect(settings) as target:
            keys = target.select("SELECT min(customer_key) AS c, min(store_key) AS s FROM fact_sales").to_pylist()
            assert keys[0]["c"] >= 0 and keys[0]["s"] >= 0  # no fact on the unknown member (-1)
            cohorts = run_query(target, "customer_cohorts").to_pylist()
            rfm = run_query(target, "rfm_segments").to_pylist()
            shop = run_query(target, "daily_revenue", {"store_id": "partner-shop"}).to_pylist()
            before = target.select("SELECT store_key, name FROM dim_store WHERE store_id = 'partner-shop'").to_pylist()
        assert sum(r["customers"] for r in cohorts if r["months_since"] == 0) == 3
        assert sum(r["customers"] for r in rfm) == 3  # segments of the three customers
        assert sum(r["revenue"] for r in shop) == Decimal("120.00")
        assert before[0]["name"] is None
        LandingLog(settings.landing_dir).write_reference("stores", reference_lines(
            [Store(store_id="partner-shop", name="Partner shop", city="Berlin", country="DE", channel="web")]))
        run_batch(settings)
        load_warehouse(settings)
        with connect(settings) as target:
            after = target.select("SELECT store_key, name, city FROM dim_store WHERE store_id = 'partner-shop'")
        assert after.to_pylist() == [{"store_key": before[0]["store_key"], "name": "Partner shop", "city": "Berlin"}]
