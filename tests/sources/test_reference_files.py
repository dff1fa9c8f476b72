"""Reference data from partner files (files.<name>.kind): only the key is required, every mapped
attribute is kept, a catalogue restates the Gold days whose categories it changes, and the warehouse
fills products its facts named before the catalogue came."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from salesflow.config import Settings, load_settings
from salesflow.jobs.sources import ingest_files
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.tables import GOLD_CATEGORY_REVENUE, GOLD_DAILY_SALES, REF_CUSTOMERS, REF_PRODUCTS
from salesflow.warehouse.targets import connect
from tests.pipeline.lakeview import rows

SALES = {
    "delimiter": ";", "grain": "line",
    "fields": {
        "order_id": "Bon", "customer_id": "Kunde", "event_time": "Zeit",
        "store_id": {"const": "filiale-1"}, "channel": {"const": "store"}, "currency": {"const": "USD"},
        "payment_method": {"const": "cash"},
        "lines.product_id": "Artikel", "lines.quantity": "Menge", "lines.unit_price": "Preis",
    },
}
CATALOGUE = {
    "kind": "products", "delimiter": ";", "decimal": ",",
    "fields": {"product_id": "SKU", "name": "Titel", "category": "Kategorie", "list_price": "Preis",
               "color": "Farbe"},
}
ONLY_CATEGORIES = {"kind": "products", "fields": {"product_id": "sku", "category": "group"}}


def _settings(settings: Settings) -> Settings:
    return load_settings(data_dir=settings.data_dir,
                         files={"sales": SALES, "catalogue": CATALOGUE, "categories": ONLY_CATEGORIES})


def _categories(settings: Settings) -> dict[tuple[date, str], Decimal]:
    return {(r["event_date"], r["category"]): r["revenue"] for r in rows(settings, GOLD_CATEGORY_REVENUE)}


def test_a_catalogue_restates_gold_and_fills_the_warehouse(settings: Settings, tmp_path: Path) -> None:
    settings = _settings(settings)
    sales = tmp_path / "sales.csv"
    sales.write_text("Bon;Kunde;Zeit;Artikel;Menge;Preis\n"
                     "B1;K1;2026-09-01T10:00:00Z;P1;2;5.00\n"
                     "B1;K1;2026-09-01T10:00:00Z;P2;1;7.50\n"
                     "B2;K2;2026-09-02T11:00:00Z;P3;1;20.00\n")
    ingest_files(settings, [sales], "sales")
    assert _categories(settings) == {(date(2026, 9, 1), "unknown"): Decimal("17.50"),
                                     (date(2026, 9, 2), "unknown"): Decimal("20.00")}
    load_warehouse(settings)  # before the catalogue: the products become inferred members

    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text("SKU;Titel;Kategorie;Preis;Farbe;Lager\n"
                         "P1;Becher;Küche;5,00;rot;12\n"
                         "P2;Teller;Küche;7,50;;3\n"
                         "P3;Lampe;Licht;20,00;weiß;1\n"
                         "P9;Stuhl;Möbel;49,90;;0\n")  # never sold
    run = ingest_files(settings, [catalogue], "catalogue")
    assert not run.rejected and run.reference is not None and run.restated is not None
    assert (run.reference.rows, run.reference.new, run.reference.recategorised) == (4, 4, ("P1", "P2", "P3", "P9"))
    assert run.restated.days == [date(2026, 9, 1), date(2026, 9, 2)] and run.restated.products == 3
    assert _categories(settings) == {(date(2026, 9, 1), "Küche"): Decimal("17.50"),
                                     (date(2026, 9, 2), "Licht"): Decimal("20.00")}
    products = {r["product_id"]: r for r in rows(settings, REF_PRODUCTS)}
    assert (products["P1"]["name"], products["P1"]["color"], products["P2"]["color"]) == ("Becher", "rot", None)
    assert products["P9"]["list_price"] == Decimal("49.90") and products["P1"]["brand"] is None
    assert "Lager" not in products["P1"]  # only what the mapping names

    assert ingest_files(settings, [catalogue], "catalogue").outcomes[0].status == "skipped"  # same content
    load_warehouse(settings)  # the catalogue fills the inferred members in place

    # A second file with only categories: P1 moves, its name stays; only P1's day is rebuilt.
    groups = tmp_path / "groups.csv"
    groups.write_text("sku,group\nP1,Geschenke\n")
    moved = ingest_files(settings, [groups], "categories")
    assert moved.restated is not None and moved.restated.days == [date(2026, 9, 1)]
    assert {r["product_id"]: (r["name"], r["category"]) for r in rows(settings, REF_PRODUCTS)}["P1"] == (
        "Becher", "Geschenke")
    assert _categories(settings)[(date(2026, 9, 1), "Geschenke")] == Decimal("10.00")
    assert sum(r["revenue"] for r in rows(settings, GOLD_DAILY_SALES)) == Decimal("37.50")  # no money moved

    load_warehouse(settings)
    with connect(settings) as target:
        named = target.select(
            "SELECT p.product_id, p.name, p.category, sum(f.revenue) AS revenue FROM fact_sales f "
            "JOIN dim_product p ON p.product_key = f.product_key GROUP BY p.product_id, p.name, p.category "
            "ORDER BY p.product_id").to_pylist()
    # The facts loaded before the catalogue sit on the inferred members, filled in place; P1's
    # later category change opened a new version (for facts to come) and closed the one they are on.
    with connect(settings) as target:
        versions = target.select("SELECT category, is_current FROM dim_product WHERE product_id = 'P1' "
                                 "ORDER BY valid_from").to_pylist()
    assert versions == [{"category": "Küche", "is_current": False}, {"category": "Geschenke", "is_current": True}]
    assert named == [
        {"product_id": "P1", "name": "Becher", "category": "Küche", "revenue": Decimal("10.00")},
        {"product_id": "P2", "name": "Teller", "category": "Küche", "revenue": Decimal("7.50")},
        {"product_id": "P3", "name": "Lampe", "category": "Licht", "revenue": Decimal("20.00")},
    ]


def test_a_bad_catalogue_row_rejects_its_file_with_the_line(settings: Settings, tmp_path: Path) -> None:
    settings = _settings(settings)
    bad = tmp_path / "bad.csv"
    bad.write_text("SKU;Titel;Kategorie;Preis;Farbe\nP1;Becher;Küche;5,00;rot\nP2;Teller;Küche;abc;\n")
    twice = tmp_path / "twice.csv"
    twice.write_text("SKU;Titel;Kategorie;Preis;Farbe\nP1;Becher;Küche;5,00;rot\nP1;Becher;Küche;6,00;rot\n")
    keyless = tmp_path / "keyless.csv"
    keyless.write_text("SKU;Titel;Kategorie;Preis;Farbe\n;Becher;Küche;5,00;rot\n")
    run = ingest_files(settings, [bad, twice, keyless], "catalogue")
    messages = {o.path.name: (o.status, o.message) for o in run.outcomes}
    assert messages["bad.csv"][0] == "rejected" and messages["bad.csv"][1].startswith("bad.csv:3: list_price")
    assert messages["twice.csv"][0] == "rejected" and "also on line 2" in messages["twice.csv"][1]
    assert messages["keyless.csv"][0] == "rejected"
    assert messages["keyless.csv"][1].startswith("keyless.csv:2: product_id")
    assert run.rejected and run.reference is None and rows(settings, REF_PRODUCTS) == []


def test_customers_and_stores_from_files_fill_the_dimensions(settings: Settings, tmp_path: Path) -> None:
    """The other kinds: a store list with names and cities, customers with a signup date in the
    partner's format; facts loaded before them keep their keys (inferred members, filled in place)."""
    settings = load_settings(data_dir=settings.data_dir, files={
        "sales": SALES,
        "stores": {"kind": "stores", "fields": {"store_id": "id", "name": "name", "city": "town"}},
        "customers": {"kind": "customers", "fields": {
            "customer_id": "kunde", "signup_date": {"column": "seit", "format": "%d.%m.%Y"}, "tier": "stufe"}},
    })
    sales = tmp_path / "sales.csv"
    sales.write_text("Bon;Kunde;Zeit;Artikel;Menge;Preis\nB1;K1;2026-09-01T10:00:00Z;P1;2;5.00\n")
    ingest_files(settings, [sales], "sales")
    load_warehouse(settings)
    stores, customers = tmp_path / "stores.csv", tmp_path / "customers.csv"
    stores.write_text("id,name,town\nfiliale-1,Mitte,Berlin\nfiliale-2,Altona,Hamburg\n")
    customers.write_text("kunde,seit,stufe\nK1,02.01.2025,gold\n")
    for path, name in ((stores, "stores"), (customers, "customers")):
        run = ingest_files(settings, [path], name)
        assert not run.rejected and run.reference is not None and run.restated is None
    load_warehouse(settings)
    with connect(settings) as target:
        fact = target.select(
            "SELECT s.name, s.city, c.signup_date FROM fact_sales f JOIN dim_store s ON s.store_key = f.store_key "
            "JOIN dim_customer c ON c.customer_key = f.customer_key").to_pylist()
        stores_known = target.select("SELECT count(*) AS n FROM dim_store WHERE store_key <> -1")["n"][0].as_py()
    assert fact == [{"name": "Mitte", "city": "Berlin", "signup_date": date(2025, 1, 2)}] and stores_known == 2
    assert rows(settings, REF_CUSTOMERS)[0]["tier"] == "gold"
