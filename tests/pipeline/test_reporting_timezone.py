"""pipeline.reporting_timezone decides event_date and every daily figure; stored times stay UTC.
Naive local times of a partner file are read with one rule at daylight-saving changes (the offset
in force before the change, as zoneinfo's fold=0), never quarantined."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from salesflow.bronze.file_ingest import FileIngestor
from salesflow.config import Settings, load_settings
from salesflow.errors import ConfigError
from salesflow.jobs import run_batch
from salesflow.jobs.backfill import backfill
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.tables import GOLD_DAILY_SALES, GOLD_SALES_BY_WINDOW, QUARANTINE, SILVER_ORDERS
from salesflow.sources.mapping import local_instant
from salesflow.warehouse.targets import connect
from tests.pipeline.lakeview import rows

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata",
         "Pacific/Chatham", "UTC"]


@hsettings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES),
       st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
       st.booleans())
def test_a_local_time_is_read_as_zoneinfo_reads_it(zone: str, naive: datetime, near_a_change: bool) -> None:
    """Against Python's zoneinfo (fold=0), also in the gap and the overlap of every change."""
    naive = naive.replace(microsecond=0)
    if near_a_change:  # move onto the wall-clock hour of the zone's nearest change that year
        changes = _changes(ZoneInfo(zone), naive.year)
        if changes:
            wall = min(changes, key=lambda c: abs(c - naive))
            naive = wall + timedelta(minutes=naive.minute)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    [(got,)] = con.execute(f"SELECT {local_instant('t', repr(zone))} FROM (SELECT CAST(? AS TIMESTAMP) AS t)",
                           [naive]).fetchall()
    assert got == naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), (zone, naive)


def _changes(zone: ZoneInfo, year: int) -> list[datetime]:
    """The wall-clock times (before the change) at which the zone's offset changes in ``year``."""
    found, t = [], datetime(year, 1, 1, tzinfo=UTC)
    while t.year == year:
        later = t + timedelta(minutes=30)
        if t.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            found.append(later.astimezone(zone).replace(tzinfo=None) - timedelta(minutes=30))
        t = later
    return found


SHOP = {
    "delimiter": ";", "grain": "line", "timezone": "Europe/Berlin",
    "fields": {
        "order_id": "Bon", "customer_id": "Kunde", "event_time": {"column": "Zeit", "format": "%Y-%m-%d %H:%M"},
        "store_id": {"const": "filiale-1"}, "channel": {"const": "store"}, "currency": {"const": "USD"},
        "payment_method": {"const": "cash"},
        "lines.product_id": "Artikel", "lines.quantity": "Menge", "lines.unit_price": "Preis",
    },
}
# Berlin wall-clock times; UTC and India (UTC+5:30) in the comments.
SALES = (
    "Bon;Kunde;Zeit;Artikel;Menge;Preis\n"
    "A;K1;2026-08-31 20:00;Tisch;1;10.00\n"  # 18:00 UTC, 23:30 IST on Aug 31
    "B;K2;2026-08-31 20:45;Tisch;1;20.00\n"  # 18:45 UTC, 00:15 IST on Sep 1: same UTC hour as A
    "C;K3;2026-08-31 21:00;Tisch;1;40.00\n"  # 19:00 UTC, 00:30 IST on Sep 1
    "D;K4;2026-03-29 02:30;Tisch;1;1.00\n"   # in the spring gap: 03:30 CEST, 01:30 UTC
    "E;K5;2026-10-25 02:30;Tisch;1;2.00\n"   # in the autumn overlap: first, 02:30 CEST, 00:30 UTC
)


def _load(settings: Settings, tmp_path: Path, zone: str) -> Settings:
    settings = load_settings(data_dir=settings.data_dir, files={"shop": SHOP},
                             pipeline={"reporting_timezone": zone})
    path = tmp_path / "sales.csv"
    path.write_text(SALES)
    run = run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [path]))
    assert run.reconciliation is not None and run.reconciliation.balanced
    return settings


def test_the_reporting_zone_decides_the_day_of_every_figure(settings: Settings, tmp_path: Path) -> None:
    settings = _load(settings, tmp_path, "Asia/Kolkata")
    assert rows(settings, QUARANTINE) == []
    orders = {o["order_id"]: (o["event_time"].astimezone(UTC).replace(tzinfo=None), o["event_date"])
              for o in rows(settings, SILVER_ORDERS)}
    assert orders == {
        "A": (datetime(2026, 8, 31, 18, 0), date(2026, 8, 31)),
        "B": (datetime(2026, 8, 31, 18, 45), date(2026, 9, 1)),
        "C": (datetime(2026, 8, 31, 19, 0), date(2026, 9, 1)),
        "D": (datetime(2026, 3, 29, 1, 30), date(2026, 3, 29)),
        "E": (datetime(2026, 10, 25, 0, 30), date(2026, 10, 25)),
    }
    daily = {r["event_date"]: r["revenue"] for r in rows(settings, GOLD_DAILY_SALES)}
    assert daily[date(2026, 8, 31)] == Decimal("10.00") and daily[date(2026, 9, 1)] == Decimal("60.00")
    # The UTC hour 18:00-19:00 holds A (Aug 31 in India) and B (Sep 1): one row for each day.
    hour = {r["event_date"]: r["revenue"] for r in rows(settings, GOLD_SALES_BY_WINDOW)
            if r["window_size"] == "1h" and r["window_start"] == datetime(2026, 8, 31, 18, tzinfo=UTC)}
    assert hour == {date(2026, 8, 31): Decimal("10.00"), date(2026, 9, 1): Decimal("20.00")}

    before = sorted(rows(settings, GOLD_SALES_BY_WINDOW), key=str)
    backfill(settings, date(2026, 9, 1), date(2026, 9, 1), layers=("gold",))  # a rebuild of one day
    after = sorted(rows(settings, GOLD_SALES_BY_WINDOW), key=str)
    assert [{k: v for k, v in r.items() if k != "updated_at"} for r in after] == \
        [{k: v for k, v in r.items() if k != "updated_at"} for r in before]

    load_warehouse(settings)
    with connect(settings) as target:
        revenue = {r["event_date"]: r["revenue"] for r in target.select(
            "SELECT event_date, revenue FROM v_daily_revenue").to_pylist()}
        assert revenue[date(2026, 9, 1)] == Decimal("60.00")


def test_utc_stays_the_default_and_an_unknown_zone_is_refused(settings: Settings, tmp_path: Path) -> None:
    settings = _load(settings, tmp_path, "UTC")
    assert {o["order_id"]: o["event_date"] for o in rows(settings, SILVER_ORDERS)}["B"] == date(2026, 8, 31)
    with pytest.raises(ConfigError, match="not an IANA time zone"):
        load_settings(data_dir=settings.data_dir, pipeline={"reporting_timezone": "Europe/Berlim"})
    with pytest.raises(ConfigError, match="not an IANA time zone"):
        load_settings(data_dir=settings.data_dir, files={"shop": {**SHOP, "timezone": "CEST+2"}})
