"""Single records that once stopped the pipeline for good now each land in quarantine, and the run goes on.

Before the plausibility bounds: an event in year 1 crashed Silver after Bronze had committed (every
rerun again), a line of 10^17 units failed silver.parsed_lines, two orders of 9 * 10^15 on one day
overflowed gold.sales_by_window (Gold one batch behind, for ever), an event in year 9999 broke the
warehouse load's calendar, and a NUL in an id broke every PostgreSQL load after it.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pyarrow.compute as pc
import pytest

from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DAILY_SALES, QUARANTINE, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.simulator import DefectRates, SimulationSpec
from salesflow.sources.landing import LandingLog
from tests.conftest import land
from tests.pg import new_database
from tests.pipeline.lakeview import rows

ORDER = {
    "event_type": "order_created", "schema_version": 1, "event_time": "2026-09-02T10:00:00Z",
    "customer_id": "C1", "store_id": "S001", "channel": "web", "currency": "USD", "payment_method": "card",
    "lines": [{"product_id": "P00001", "quantity": 1, "unit_price": 10.0, "discount": 0}], "total_amount": 10.0,
}


def pill(n: int, **change: object) -> bytes:
    return json.dumps({**ORDER, "event_id": f"pill-{n}", "order_id": f"pill-{n}", **change}).encode()


PILLS = {
    pill(1, event_time="0001-01-01T00:00:00Z"): "implausible_time",
    pill(2, event_time="-0001-06-01T00:00:00Z"): "implausible_time",
    pill(3, event_time="10000-01-01T00:00:00Z"): "implausible_time",
    pill(4, event_time="9999-12-31T00:00:00Z"): "implausible_time",
    pill(5, lines=[{"product_id": "P00001", "quantity": 10**17, "unit_price": 100.0}]): "implausible_quantity",
    pill(
        6, lines=[{"product_id": "P00001", "quantity": 1, "unit_price": 9e15}], total_amount=9e15
    ): "implausible_amount",
    pill(
        7, lines=[{"product_id": "P00001", "quantity": 1, "unit_price": 9e15}], total_amount=9e15
    ): "implausible_amount",
    pill(8, customer_id="C\u0000NUL"): "invalid_value",
    pill(9, order_id="O\u001b[31m"): "invalid_value",
}


@pytest.fixture
def poisoned(settings: Settings) -> Settings:
    land(settings, SimulationSpec(events=3_000, seed=5, start=date(2026, 9, 1), days=3, defects=DefectRates.none()))
    LandingLog(settings.landing_dir).append(PILLS)
    return settings


def test_poison_pills_are_quarantined_and_everything_else_flows_through(poisoned: Settings,
                                                                       postgres_admin_url: str) -> None:
    run = run_batch(poisoned)
    quarantine = {r["event_id"]: r["reason"] for r in rows(poisoned, QUARANTINE) if r["event_id"].startswith("pill-")}
    assert quarantine == {json.loads(p)["event_id"]: reason for p, reason in PILLS.items()}
    rec = reconcile_lake(Lake(poisoned.lake_root))
    assert rec.balanced and rec.quarantined == len(PILLS) and run.total("quarantined_total") == len(PILLS)

    # Money: every accepted order's revenue is in Gold, to the cent; Gold is not a batch behind.
    lake = Lake(poisoned.lake_root)
    silver = lake.read(SILVER_ORDERS)
    gold = lake.read(GOLD_DAILY_SALES)
    assert silver is not None and gold is not None
    assert Decimal(str(pc.sum(gold["revenue"]).as_py())) == Decimal(str(pc.sum(silver["total_amount"]).as_py()))

    # The calendar ends with the data, not in year 9999; both warehouses load and reconcile.
    for settings in (poisoned, load_settings(data_dir=poisoned.data_dir,
                                             warehouse={"url": new_database(postgres_admin_url)})):
        result = load_warehouse(settings)
        assert result.reconciled and result.totals["fact_sales"] == result.silver_lines > 0
        assert result.totals["dim_date"] < 400

    again = run_batch(poisoned)  # a rerun finds nothing left to do and stops on nothing
    assert again.total("quarantined_total") == 0 and reconcile_lake(Lake(poisoned.lake_root)).balanced


def test_the_collector_refuses_what_silver_would_quarantine() -> None:
    from salesflow.collector.app import _validate
    from salesflow.contract.bounds import DEFAULT_BOUNDS

    results, accepted = _validate(list(PILLS), 1 << 20, DEFAULT_BOUNDS)
    assert accepted == [] and all(r["status"] == "rejected" for r in results)
    ok, accepted = _validate([pill(10)], 1 << 20, DEFAULT_BOUNDS)
    assert len(accepted) == 1 and ok[0]["event_id"] == "pill-10"


def test_a_repeated_key_is_refused_in_every_body_shape() -> None:
    """Single object, JSON array and NDJSON: the same event with a repeated key is malformed_json,
    and an accepted event is stored byte for byte under the event_id the answer gave."""
    from salesflow.collector.app import _documents, _validate
    from salesflow.contract.bounds import DEFAULT_BOUNDS

    twice = pill(11).replace(b'"currency": "USD"', b'"currency": "USD", "currency": "EUR"')
    fine = pill(12)
    for body, ndjson in ((twice, False), (b"[" + twice + b"," + fine + b"]", False), (twice + b"\n" + fine, True)):
        results, accepted = _validate(_documents(body, ndjson), 1 << 20, DEFAULT_BOUNDS)
        assert results[0]["status"] == "rejected" and results[0]["reason"] == "malformed_json", results
        for result, raw in zip([r for r in results if r["status"] == "accepted"], accepted, strict=True):
            assert json.loads(raw)["event_id"] == result["event_id"] == "pill-12"
