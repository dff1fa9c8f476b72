"""Line-grain partner files: a row that breaks the contract is quarantined alone, with its own file
line and field, and the rest of its basket is accepted; a value that does not compute is that row's
``invalid_value``, never a crash. Every row's money ends in exactly one place."""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from salesflow.bronze.file_ingest import FileIngestor
from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.lake.tables import QUARANTINE, SILVER_ORDER_LINES, SILVER_ORDERS
from tests.pipeline.lakeview import rows

SHOP = {
    "delimiter": ";", "decimal": ",", "grain": "line", "timezone": "Europe/Berlin",
    "fields": {
        "order_id": "Bon", "customer_id": "Kunde",
        "event_time": {"column": "Zeit", "format": "%d.%m.%Y %H:%M"},
        "store_id": {"const": "filiale-1"}, "channel": {"const": "store"}, "currency": {"const": "USD"},
        "payment_method": {"const": "cash"},
        "lines.product_id": "Artikel", "lines.quantity": "Menge",
        # A price the partner does not give, computed as a user would: a division that can fail.
        "lines.unit_price": {"expr": "CAST(replace(\"Betrag\", ',', '.') AS DOUBLE) / CAST(\"Menge\" AS DOUBLE)"},
    },
}
# Not sorted by time; line numbers in the comments are the file's own.
RECEIPTS = (
    "Bon;Kunde;Zeit;Artikel;Menge;Betrag\n"     # 1
    "B2;K2;02.09.2026 09:00;Lampe;1;5,00\n"     # 2
    "B1;K1;01.09.2026 10:00;Tisch;2;25,00\n"    # 3
    "B1;K1;01.09.2026 10:00;Waage;0;3,00\n"     # 4: quantity 0 with money: 3.00 / 0 does not compute
    "B1;K1;01.09.2026 10:00;Lampe;1;NaN\n"      # 5: NaN
    "B3;K3;31.08.2026 12:00;Tisch;-1;-12,50\n"  # 6: a return line: accepted, negative revenue
    "B3;K3;31.08.2026 12:00;Regal;1;40,00\n"    # 7
    "B1;K1;01.09.2026 10:00;Stuhl;3;9,30\n"     # 8: B1 again, further down the file
)


def _shop(settings: Settings, shop: dict[str, object] = SHOP) -> Settings:
    return load_settings(data_dir=settings.data_dir, files={"shop": shop})


def _money(payload: str) -> Decimal:
    try:
        return Decimal(str(json.loads(payload).get("total_amount", 0)))
    except (ValueError, AttributeError):  # a row the reader could not split keeps its raw text
        return Decimal(0)


def test_each_bad_line_is_quarantined_alone_and_its_basket_is_kept(settings: Settings, tmp_path: Path) -> None:
    settings = _shop(settings)
    path = tmp_path / "receipts.csv"
    path.write_text(RECEIPTS)
    run = run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [path]))

    assert run.reconciliation is not None and run.reconciliation.balanced
    orders = {r["order_id"]: r for r in rows(settings, SILVER_ORDERS)}
    assert {k: (o["total_amount"], o["line_count"], o["quarantined_lines"], o["source_position"], o["late"])
            for k, o in orders.items()} == {
        "B1": (Decimal("34.30"), 2, 2, "receipts.csv:3", False),
        "B2": (Decimal("5.00"), 1, 0, "receipts.csv:2", False),
        "B3": (Decimal("27.50"), 2, 0, "receipts.csv:6", False),
    }
    lines = sorted((r["order_id"], r["product_id"], r["quantity"], r["revenue"])
                   for r in rows(settings, SILVER_ORDER_LINES))
    assert lines == [("B1", "Stuhl", 3, Decimal("9.30")), ("B1", "Tisch", 2, Decimal("25.00")),
                     ("B2", "Lampe", 1, Decimal("5.00")), ("B3", "Regal", 1, Decimal("40.00")),
                     ("B3", "Tisch", -1, Decimal("-12.50"))]
    held = {r["source_position"]: (r["reason"], r["reason_detail"], r["event_type"], _money(r["payload"]))
            for r in rows(settings, QUARANTINE)}
    assert held == {
        "receipts.csv:4": ("invalid_value", "lines.unit_price", "order_created", Decimal(0)),
        "receipts.csv:5": ("invalid_value", "lines.unit_price", "order_created", Decimal(0)),
    }
    assert sum(o["total_amount"] for o in orders.values()) == Decimal("66.80")


def test_an_expression_that_fails_on_one_row_quarantines_that_row(settings: Settings, tmp_path: Path) -> None:
    """An overflow inside the operator's expression is that row's invalid_value, not exit 1."""
    fields = {**SHOP["fields"], "lines.quantity": {"expr": "CAST(\"Menge\" AS INTEGER) * 1000000 // 1000000"}}  # type: ignore[dict-item]
    settings = _shop(settings, {**SHOP, "fields": fields})
    path = tmp_path / "big.csv"
    path.write_text("Bon;Kunde;Zeit;Artikel;Menge;Betrag\n"
                    "C1;K1;01.09.2026 10:00;Tisch;1;2,00\n"
                    "C1;K1;01.09.2026 10:00;Lampe;5000;5,00\n")  # 5000 * 10^6 overflows INTEGER
    run = run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [path]))
    assert run.reconciliation is not None and run.reconciliation.balanced
    held = {r["source_position"]: (r["reason"], r["reason_detail"]) for r in rows(settings, QUARANTINE)}
    assert held == {"big.csv:3": ("invalid_value", "lines.quantity")}
    [order] = rows(settings, SILVER_ORDERS)
    assert (order["order_id"], order["total_amount"], order["quarantined_lines"]) == ("C1", Decimal("2.00"), 1)


_LINE = st.tuples(
    st.sampled_from(["O1", "O2", "O3"]),
    st.sampled_from(["1", "2", "0", "-1", "x", ""]),  # quantity: fine, zero, return, not a number, missing
    st.sampled_from(["2,50", "0,00", "NaN", "inf", "-3,00", "1e400", "abc"]),
)


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_LINE, min_size=1, max_size=8))
def test_any_mix_of_lines_lands_each_line_once_with_its_money(basket: list[tuple[str, str, str]]) -> None:
    """Whatever the lines, each file row is in exactly one place: a line of an accepted order, or
    quarantine under its own file line; an accepted order totals its accepted lines and counts the
    others; the batch reconciles in rows and money."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = _shop(load_settings(data_dir=Path(tmp) / "data"))
        path = Path(tmp) / "mix.csv"
        path.write_text("Bon;Kunde;Zeit;Artikel;Menge;Betrag\n" + "".join(
            f"{order};K;01.09.2026 10:00;P{i};{quantity};{amount}\n"
            for i, (order, quantity, amount) in enumerate(basket)))
        run = run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [path]))
        assert run.reconciliation is not None and run.reconciliation.balanced

        accepted = {r["product_id"]: r for r in rows(settings, SILVER_ORDER_LINES)}
        held = {r["source_position"]: r for r in rows(settings, QUARANTINE)}
        for i, (order, _, _) in enumerate(basket):
            line = f"mix.csv:{i + 2}"
            assert (f"P{i}" in accepted) != (line in held), line  # exactly one place
            if f"P{i}" in accepted:
                assert accepted[f"P{i}"]["order_id"] == order
        for o in rows(settings, SILVER_ORDERS):
            kept = [r for r in accepted.values() if r["order_id"] == o["order_id"]]
            assert o["total_amount"] == sum(r["revenue"] for r in kept)
            assert o["quarantined_lines"] == sum(
                1 for i, (order, _, _) in enumerate(basket) if order == o["order_id"] and f"mix.csv:{i + 2}" in held)
        assert all(r["reason"] and r["reason_detail"] for r in held.values())


def test_a_quarantined_return_counts_as_money_quarantined(settings: Settings, tmp_path: Path) -> None:
    """The share of money quarantined counts totals without their sign: a return line held back
    (its discount points the wrong way) is 13.50 quarantined, not 13.50 given back."""
    fields = {**SHOP["fields"], "lines.discount": "Rabatt"}  # type: ignore[dict-item]
    settings = _shop(settings, {**SHOP, "fields": fields})
    path = tmp_path / "returns.csv"
    path.write_text("Bon;Kunde;Zeit;Artikel;Menge;Betrag;Rabatt\n"
                    "R1;K1;01.09.2026 10:00;Tisch;1;10,00;0\n"
                    "R2;K2;01.09.2026 11:00;Tisch;-1;-12,50;1\n")
    run = run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [path]))
    assert run.reconciliation is not None and run.reconciliation.balanced
    [held] = rows(settings, QUARANTINE)
    assert (held["source_position"], held["reason"], held["reason_detail"]) == (
        "returns.csv:3", "invalid_value", "lines.discount")
    assert (run.money["quarantined"], run.money["quarantined_gross"], run.money["bronze_gross"]) == (
        Decimal("-13.50"), Decimal("13.50"), Decimal("23.50"))
