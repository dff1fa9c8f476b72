"""The README's partner-files walkthrough (examples/partner/), run as a user runs it: the numbers
the README quotes are the ones the commands print."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from salesflow.config import load_settings
from salesflow.lake.tables import GOLD_CATEGORY_REVENUE, GOLD_DAILY_SALES, QUARANTINE, SILVER_ORDERS
from tests.cli.test_cli import salesflow
from tests.pipeline.lakeview import rows

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "partner"


def test_the_readme_walkthrough(tmp_path: Path) -> None:
    base = ("--config", str(EXAMPLE / "salesflow.yaml"), "--data-dir", str(tmp_path / "shop"))
    receipts = salesflow(*base, "ingest-files", str(EXAMPLE / "receipts.csv"), "--source", "receipts", "--json")
    assert receipts.returncode == 0, receipts.stderr
    facts = json.loads(receipts.stdout)
    assert facts["files"][0]["status"] == "ingested" and facts["files"][0]["rows"] == 6
    settings = load_settings(data_dir=tmp_path / "shop")
    held = {r["source_position"]: (r["reason"], r["reason_detail"]) for r in rows(settings, QUARANTINE)}
    assert held == {"receipts.csv:8": ("invalid_type", "lines.quantity")}
    orders = {o["order_id"]: o for o in rows(settings, SILVER_ORDERS)}
    assert {k: (o["event_date"], o["total_amount"], o["quarantined_lines"]) for k, o in orders.items()} == {
        "1001": (date(2026, 10, 31), Decimal("15.17"), 0),
        "1002": (date(2026, 11, 1), Decimal("9.44"), 0),  # 23:15 UTC on 31 October; weighed fruit, quantity 0
        "1003": (date(2026, 11, 1), Decimal("26.34"), 0),
        "1004": (date(2026, 11, 1), Decimal("6.99"), 1),
        "1005": (date(2026, 11, 1), Decimal("-5.99"), 0),  # a return
    }

    catalogue = salesflow(*base, "ingest-files", str(EXAMPLE / "catalogue.csv"), "--source", "catalogue")
    assert catalogue.returncode == 0, catalogue.stderr
    assert ("reference.products: 4 row(s), 4 new; 4 product(s) got a new category; restated 2 Gold day(s) "
            "(2026-10-31..2026-11-01) for 4 product(s) whose category changed") in " ".join(catalogue.stdout.split())
    assert {(r["event_date"], r["category"]): r["revenue"] for r in rows(settings, GOLD_CATEGORY_REVENUE)} == {
        (date(2026, 10, 31), "Kaffee"): Decimal("13.98"), (date(2026, 10, 31), "Frische"): Decimal("1.19"),
        (date(2026, 11, 1), "Kaffee"): Decimal("13.98"), (date(2026, 11, 1), "Frische"): Decimal("4.83"),
        (date(2026, 11, 1), "Geschirr"): Decimal("17.97")}

    [cups] = [r for r in rows(settings, GOLD_DAILY_SALES)
              if r["product_id"] == "TASSE" and r["event_date"] == date(2026, 11, 1)]
    assert (cups["units"], cups["revenue"], cups["gross_revenue"], cups["returns"]) == (
        3, Decimal("17.97"), Decimal("23.96"), Decimal("5.99"))  # four sold, one returned

    assert salesflow(*base, "warehouse", "load").returncode == 0
    daily = salesflow(*base, "query", "daily_revenue", "--format", "json")
    assert daily.returncode == 0, daily.stderr
    assert [(r["day"], r["revenue"], r["gross_revenue"], r["returns"], r["orders"])
            for r in json.loads(daily.stdout)] == [("2026-10-31", 15.17, 15.17, 0, 1),
                                                   ("2026-11-01", 36.78, 42.77, 5.99, 4)]
