"""Partner files through a column mapping: messy CSVs, JSON Lines, Parquet and a real public file."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from salesflow.bronze.file_ingest import FileIngestor
from salesflow.config import Settings, load_settings
from salesflow.errors import ConfigError
from salesflow.forecast.kinds import BY_CLASS, KINDS
from salesflow.jobs import run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, QUARANTINE, SILVER_ORDER_LINES, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_lake
from tests.pipeline.lakeview import rows

ROOT = Path(__file__).resolve().parents[2]
# Located without importing lifetimes (it pulls in pandas and scipy just to ship the file).
CDNOW = Path(importlib.util.find_spec("lifetimes").origin).parent / "datasets" / "CDNOW_master.txt"  # type: ignore[union-attr, arg-type]

SHOP = {
    "delimiter": ";", "decimal": ",", "grain": "line", "timezone": "Europe/Berlin",
    "fields": {
        "order_id": "Bestellung", "customer_id": "Kunde",
        "event_time": {"column": "Datum", "format": "%d.%m.%Y %H:%M"},
        "store_id": {"const": "partner-shop"}, "channel": {"const": "web"}, "currency": {"const": "USD"},
        "payment_method": {"const": "card"},
        "lines.product_id": "Artikel", "lines.quantity": "Menge", "lines.unit_price": "Preis",
    },
}
# BOM, CRLF, ; delimiter, decimal commas, a quoted newline, a bad quantity, a bad date, a short row,
# blank trailing lines. Line numbers in the comments are the file's own.
MESSY = (
    "\ufeffBestellung;Kunde;Datum;Artikel;Menge;Preis\r\n"      # 1
    'A1;K1;01.09.2026 10:15;"Tisch\nrund";2;12,50\r\n'           # 2-3: one record over two lines
    "A1;K1;01.09.2026 10:15;Stuhl;1;3,10\r\n"                    # 4: second line of order A1
    "A2;K2;02.09.2026 23:30;Lampe;x;5,00\r\n"                    # 5: quantity is not a number
    "A3;K3;31.02.2026 08:00;Lampe;1;5,00\r\n"                    # 6: no such date
    "A4;K4;02.09.2026 10:00;Lampe;1\r\n"                         # 7: a field short
    '"A5";K5;03.09.2026 00:30;"Regal; weiß";1;1.234,50\r\n'      # 8: quoted delimiter, thousands dot
    "\r\n\r\n"
)


def with_sources(settings: Settings, **files: dict) -> Settings:
    return load_settings(data_dir=settings.data_dir, files=files)


def test_messy_csv_lands_every_record_once_with_reasons_and_lines(settings: Settings, tmp_path: Path) -> None:
    settings = with_sources(settings, shop={**SHOP, "thousands": "."})
    path = tmp_path / "orders.csv"
    path.write_bytes(MESSY.encode("utf-8"))
    run = run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [path]))

    assert run.reconciliation is not None and run.reconciliation.balanced
    orders = {r["order_id"]: r for r in rows(settings, SILVER_ORDERS)}
    assert sorted(orders) == ["A1", "A5"]
    # A1's first line breaks the contract and is quarantined alone: the order keeps its other line.
    assert (orders["A1"]["total_amount"], orders["A1"]["quarantined_lines"], orders["A1"]["line_count"],
            orders["A1"]["source_position"]) == (Decimal("3.10"), 1, 1, "orders.csv:4")
    assert orders["A5"]["total_amount"] == Decimal("1234.50") and orders["A5"]["quarantined_lines"] == 0
    assert orders["A5"]["source"] == "file:shop" and orders["A5"]["source_position"] == "orders.csv:8"
    assert str(orders["A5"]["event_time"]) == "2026-09-02 22:30:00+00:00"  # Berlin summer time is UTC+2
    lines = {(r["order_id"], r["line_number"]): r for r in rows(settings, SILVER_ORDER_LINES)}
    assert lines[("A5", 1)]["product_id"] == "Regal; weiß"
    assert {r["source"] for r in lines.values()} == {"file:shop"}
    quarantined = {r["source_position"]: (r["reason"], r["reason_detail"]) for r in rows(settings, QUARANTINE)}
    assert quarantined == {
        # The quoted newline spans lines 2-3, and the record starts on line 2. A newline is a control
        # character, which no id may hold (the product id here), so that line waits in quarantine.
        "orders.csv:2": ("invalid_value", "lines.product_id"),
        "orders.csv:5": ("invalid_type", "lines.quantity"),
        "orders.csv:6": ("invalid_timestamp", "event_time"),
        "orders.csv:7": ("malformed_row", "expected_6_fields_got_5"),
    }


def test_redelivered_file_is_ignored_even_renamed(settings: Settings, tmp_path: Path) -> None:
    settings = with_sources(settings, shop=SHOP)
    first = tmp_path / "orders.csv"
    first.write_bytes(MESSY.encode())
    again = tmp_path / "orders-resent.csv"
    shutil.copy(first, again)

    def ingest(*paths: Path) -> FileIngestor:
        made: list[FileIngestor] = []
        run_batch(settings, bronze=lambda lake, engine: made.append(
            FileIngestor(lake, engine, settings, "shop", list(paths))) or made[-1])
        return made[0]

    assert [o.status for o in ingest(first).outcomes] == ["ingested"]
    bronze_rows = len(rows(settings, BRONZE_EVENTS))
    version = Lake(settings.lake_root).version(BRONZE_EVENTS)
    assert [o.status for o in ingest(first, again).outcomes] == ["skipped", "skipped"]
    assert len(rows(settings, BRONZE_EVENTS)) == bronze_rows
    assert Lake(settings.lake_root).version(BRONZE_EVENTS) == version


def test_wrong_header_rejects_the_whole_file_and_loads_the_others(settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "salesflow.yaml"
    config.write_text(yaml.safe_dump({"files": {"shop": SHOP}}))
    bad = tmp_path / "a-bad.csv"  # "Menge" (quantity) is missing from the header
    bad.write_text("Bestellung;Kunde;Datum;Artikel;Preis\nB1;K1;01.09.2026 10:15;Tisch;12,50\n")
    good = tmp_path / "b-good.csv"
    good.write_text("Bestellung;Kunde;Datum;Artikel;Menge;Preis\nG1;K1;01.09.2026 10:15;Tisch;1;2,00\n")
    result = subprocess.run([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir",
                             str(settings.data_dir), "ingest-files", str(bad), str(good), "--source", "shop"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "a-bad.csv" in result.stderr and "lacks column(s) ['Menge']" in result.stderr
    assert "Traceback" not in result.stderr
    bronze = rows(settings, BRONZE_EVENTS)
    assert {r["source_file"].split("#")[0] for r in bronze} == {"b-good.csv"}  # nothing half-loaded
    assert [r["order_id"] for r in rows(settings, SILVER_ORDERS)] == ["G1"]


def test_unknown_source_and_unreadable_encoding_are_clear(settings: Settings, tmp_path: Path) -> None:
    settings = with_sources(settings, shop=SHOP)
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("Bestellung;Kunde;Datum;Artikel;Menge;Preis\nL1;K1;01.09.2026 10:15;Stück;1;2,00\n"
                      .encode("latin-1"))
    made: list[FileIngestor] = []
    run_batch(settings, bronze=lambda lake, engine: made.append(
        FileIngestor(lake, engine, settings, "shop", [latin])) or made[-1])
    (outcome,) = made[0].outcomes
    assert outcome.status == "rejected" and "not valid utf-8 at line 2" in outcome.message
    assert rows(settings, BRONZE_EVENTS) == []

    settings = with_sources(settings, shop={**SHOP, "encoding": "latin-1"})  # told the truth, it loads
    run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [latin]))
    assert [r["product_id"] for r in rows(settings, SILVER_ORDER_LINES)] == ["Stück"]

    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir),
                             "ingest-files", str(latin), "--source", "nope"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and "no file source named 'nope'" in result.stderr


def test_jsonl_and_parquet_through_the_same_mapping(settings: Settings, tmp_path: Path) -> None:
    mapping = {
        "fields": {
            "order_id": "id", "customer_id": "buyer", "event_time": "ts", "store_id": {"const": "s1"},
            "channel": {"const": "marketplace"}, "currency": "cur", "payment_method": {"const": "paypal"},
            "lines.product_id": "sku", "lines.quantity": "qty",
            "lines.unit_price": {"column": "price_cents", "scale": 0.01},
        },
        "fx_rates": {"EUR": 1.25},
    }
    settings = with_sources(settings, jl={**mapping, "format": "jsonl"}, pq={**mapping, "format": "parquet"})
    jl = tmp_path / "feed.jsonl"
    jl.write_text(
        '{"id": "J1", "buyer": "c1", "ts": "2026-09-01T10:00:00Z", "cur": "USD", "sku": "p1", "qty": 2, '
        '"price_cents": 1999}\n'
        '{"id": "J2", "buyer": "c2", "ts": "2026-09-01T11:00:00+02:00", "cur": "EUR", "sku": "p2", "qty": 1, '
        '"price_cents": 1000}\n'
        "{not json\n"
        '{"id": "J3", "ts": "2026-09-01T12:00:00Z", "cur": "USD", "sku": "p1", "qty": -1, "price_cents": 100}\n\n')
    parquet = tmp_path / "feed.parquet"
    pq.write_table(pa.table({
        "id": ["P1", "P2"], "buyer": ["c3", "c4"], "ts": ["2026-09-02 09:00:00", "2026-09-02 10:00:00"],
        "cur": ["USD", "JPY"], "sku": ["p3", "p3"], "qty": pa.array([3, 1], pa.int64()),
        "price_cents": pa.array([250, 500], pa.int64())}), parquet)
    for name, path in (("jl", jl), ("pq", parquet)):
        run_batch(settings, bronze=lambda lake, engine, n=name, p=path: FileIngestor(lake, engine, settings, n, [p]))

    orders = {r["order_id"]: r for r in rows(settings, SILVER_ORDERS)}
    assert {k: v["total_amount"] for k, v in orders.items()} == {
        "J1": Decimal("39.98"), "J2": Decimal("12.50"), "P1": Decimal("7.50")}  # 10.00 EUR -> 12.50 USD
    assert orders["J2"]["currency"] == "USD" and str(orders["J2"]["event_time"]) == "2026-09-01 09:00:00+00:00"
    assert {orders["J1"]["source"], orders["P1"]["source"]} == {"file:jl", "file:pq"}
    quarantined = {r["source_position"]: r["reason"] + ":" + (r["reason_detail"] or "")
                   for r in rows(settings, QUARANTINE)}
    assert quarantined == {"feed.jsonl:3": "malformed_json:", "feed.jsonl:4": "missing_field:customer_id",
                           "feed.parquet:2": "unsupported_currency:currency"}
    assert reconcile_lake(Lake(settings.lake_root)).balanced


@pytest.mark.slow
def test_real_public_sales_file_cdnow(settings: Settings, tmp_path: Path) -> None:
    """69,659 real purchases through the example mapping shipped in examples/cdnow.yaml."""
    expected_orders, expected_revenue, expected_units = 0, Decimal(0), 0
    for line in CDNOW.read_text().splitlines()[1:]:
        _, _, cds, dollars = line.split()
        expected_orders += 1
        expected_revenue += Decimal(dollars)
        expected_units += int(cds)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "salesflow", "--config", str(ROOT / "examples" / "cdnow.yaml"),
                             "--data-dir", str(settings.data_dir), "ingest-files", str(CDNOW), "--source", "cdnow"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = Lake(settings.lake_root).read(SILVER_ORDER_LINES)
    assert lines is not None
    assert lines.num_rows == expected_orders == 69_659
    assert sum(lines["revenue"].to_pylist(), Decimal(0)) == expected_revenue
    assert sum(lines["quantity"].to_pylist()) == expected_units
    assert rows(settings, QUARANTINE) == []
    days = {d.isoformat() for d in lines["event_date"].to_pylist()}
    assert min(days) == "1997-01-01" and max(days) == "1998-06-30"

    # The real history backtests like the simulated one (the README quotes this table).
    evaluated = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "forecast",
                                "evaluate", "--json", "--plot", str(tmp_path / "cdnow.png")],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    metrics = json.loads(evaluated.stdout)["metrics"]
    assert {(m["model"], m["horizon"]) for m in metrics} == {
        (k, h) for k in (*KINDS, BY_CLASS) for h in ("1", "7", "all")}
    assert all(0 < m["wape"] < 1 and m["mae"] > 0 for m in metrics)
    assert (tmp_path / "cdnow.png").stat().st_size > 10_000


def test_concurrent_writers_share_bronze_without_colliding(settings: Settings, tmp_path: Path) -> None:
    """A landing batch and three partner-file loads at once: every Bronze batch id has one source,
    the lake reconciles, and the warehouse splits revenue by source."""
    from salesflow.jobs.warehouse import load_warehouse
    from salesflow.simulator import SimulationSpec
    from tests.conftest import land

    land(settings, SimulationSpec(events=12_000, seed=5), per_segment=1_500)
    config = tmp_path / "salesflow.yaml"
    config.write_text(yaml.safe_dump({"files": {"shop": SHOP}}))
    files = []
    for i in range(3):
        path = tmp_path / f"drop-{i}.csv"
        body = "Bestellung;Kunde;Datum;Artikel;Menge;Preis\n" + "".join(
            f"F{i}-{n};K{n};0{1 + n % 9}.09.2026 1{n % 10}:00;P{n % 4};{1 + n % 3};{n % 50},25\n" for n in range(400))
        path.write_text(body)
        files.append(path)
    base = [sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir", str(settings.data_dir)]
    procs = [subprocess.Popen([*base, "batch"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)]
    procs += [subprocess.Popen([*base, "ingest-files", str(f), "--source", "shop", "--bronze-only"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path) for f in files]
    for proc in procs:
        assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    run_batch(load_settings(config, data_dir=settings.data_dir))  # Silver/Gold for the files' batches

    bronze = Lake(settings.lake_root).read(BRONZE_EVENTS, columns=["batch_id", "source"])
    assert bronze is not None
    sources_per_batch: dict[int, set[str]] = {}
    for batch_id, source in zip(bronze["batch_id"].to_pylist(), bronze["source"].to_pylist(), strict=True):
        sources_per_batch.setdefault(batch_id, set()).add(source)
    assert all(len(s) == 1 for s in sources_per_batch.values())
    assert sum(1 for s in sources_per_batch.values() if s == {"file:shop"}) == 3
    assert reconcile_lake(Lake(settings.lake_root)).balanced

    from salesflow.analytics import run_query
    from salesflow.warehouse.targets import connect

    load_warehouse(settings)
    with connect(settings) as target:
        by_source = run_query(target, "revenue_by_source", {})
    revenue: dict[str, Decimal] = {}
    for row in by_source.to_pylist():
        revenue[row["source"]] = revenue.get(row["source"], Decimal(0)) + Decimal(str(row["revenue"]))
    silver = Lake(settings.lake_root).read(SILVER_ORDER_LINES, columns=["source", "revenue"])
    assert silver is not None
    expected: dict[str, Decimal] = {}
    for source, value in zip(silver["source"].to_pylist(), silver["revenue"].to_pylist(), strict=True):
        expected[source] = expected.get(source, Decimal(0)) + value
    assert set(revenue) == {"landing", "file:shop"} and revenue == expected


def test_a_mapping_without_a_required_field_is_refused_before_any_file_is_read(settings: Settings,
                                                                               tmp_path: Path) -> None:
    """The README's first example left channel, currency and payment_method out: every record went to
    quarantine as missing_field and the command said exit 0. Now the config itself is refused."""
    fields = {k: v for k, v in SHOP["fields"].items() if k not in ("channel", "currency", "payment_method")}
    config = tmp_path / "refused.yaml"
    config.write_text(yaml.safe_dump({"files": {"shop": {**SHOP, "fields": fields}}}))
    good = tmp_path / "orders.csv"
    good.write_text("Bestellung;Kunde;Datum;Artikel;Menge;Preis\nG1;K1;01.09.2026 10:15;Tisch;1;2,00\n")
    result = subprocess.run([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir",
                             str(settings.data_dir), "ingest-files", str(good), "--source", "shop"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "files.shop" in line and "channel, currency, payment_method" in line and "{const: store}" in line
    assert not Lake(settings.lake_root).exists(BRONZE_EVENTS)  # nothing read, nothing written
    for event_type, needs in (("product_viewed", "session_id"), ("add_to_cart", "quantity")):
        with pytest.raises(ConfigError, match=needs):
            load_settings(data_dir=settings.data_dir, files={"views": {
                "fields": {"event_type": {"const": event_type}, "event_id": "id", "event_time": "t"}}})


def test_an_unsorted_history_file_is_not_judged_late(settings: Settings, tmp_path: Path) -> None:
    """Lateness is for streams: a file's row order is not arrival order (a history sorted by customer
    flagged 82% of its orders late). The same events through the landing log are judged as usual."""
    settings = with_sources(settings, shop=SHOP)
    lines = ["Bestellung;Kunde;Datum;Artikel;Menge;Preis"]
    for i in range(60):  # newest first: every order but the first is hours older than the one before
        lines.append(f"H{i};K{i % 5};{30 - i // 24:02d}.08.2026 {23 - i % 24:02d}:00;Tisch;1;2,00")
    history = tmp_path / "history.csv"
    history.write_text("\n".join(lines) + "\n")
    run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [history]))
    orders = rows(settings, SILVER_ORDERS)
    assert len(orders) == 60 and not any(o["late"] for o in orders)


def test_lines_known_by_their_amount_keep_every_cent(settings: Settings, tmp_path: Path) -> None:
    """lines.amount instead of a unit price: revenue is the amount to the cent, the unit price is
    derived (rounded up, the rounding given back as a discount); a quantity of 0 with an amount is a
    value line (its price once, no units), a negative quantity and amount a return."""
    fields = {k: v for k, v in SHOP["fields"].items() if k != "lines.unit_price"}
    settings = with_sources(settings, shop={**SHOP, "fields": {**fields, "lines.amount": "Betrag"}})
    sales = tmp_path / "amounts.csv"
    sales.write_text("Bestellung;Kunde;Datum;Artikel;Menge;Betrag\n"
                     "M1;K1;01.09.2026 10:00;CD;12;100,00\n"
                     "M2;K2;01.09.2026 11:00;CD;3;10,00\n"
                     "M3;K3;01.09.2026 12:00;CD;1;7,99\n"
                     "M4;K4;01.09.2026 13:00;CD;0;5,00\n"
                     "M5;K5;01.09.2026 14:00;CD;-2;-9,99\n")
    run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [sales]))
    lines = {r["order_id"]: r for r in rows(settings, SILVER_ORDER_LINES)}
    assert {k: (v["unit_price"], v["discount"], v["revenue"]) for k, v in lines.items()} == {
        "M1": (Decimal("8.34"), Decimal("0.08"), Decimal("100.00")),
        "M2": (Decimal("3.34"), Decimal("0.02"), Decimal("10.00")),
        "M3": (Decimal("7.99"), Decimal("0.00"), Decimal("7.99")),
        "M4": (Decimal("5.00"), Decimal("0.00"), Decimal("5.00")),
        "M5": (Decimal("5.00"), Decimal("-0.01"), Decimal("-9.99"))}
    assert rows(settings, QUARANTINE) == []
    with pytest.raises(ConfigError, match="not both"):
        with_sources(settings, shop={**SHOP, "fields": {**SHOP["fields"], "lines.amount": "Betrag"}})
