"""``salesflow quarantine release`` (#28): quarantined records go through Silver again after a fix,
each row once, and every Bronze record still ends in exactly one place, in rows and money."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from salesflow.cli.main import cli
from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.jobs.sources import release_quarantine
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, QUARANTINE, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.sources.landing import LandingLog
from tests.pipeline.lakeview import rows

ORDER = {
    "event_type": "order_created", "schema_version": 1, "event_time": "2026-09-01T10:00:00Z",
    "customer_id": "C1", "store_id": "S1", "channel": "web", "currency": "USD", "payment_method": "card",
}


def _order(n: int, quantity: int, **extra: object) -> bytes:
    lines = [{"product_id": "P1", "quantity": quantity, "unit_price": 10.0}]
    return json.dumps({**ORDER, "event_id": f"E{n}", "order_id": f"O{n}", "lines": lines,
                       "total_amount": quantity * 10.0, **extra}).encode()


def _settings(data: Path, max_quantity: int, max_payload_bytes: int) -> Settings:
    return load_settings(data_dir=data, pipeline={"max_quantity": max_quantity, "max_payload_bytes": max_payload_bytes,
                                                  "keep_oversized_payloads": True})


def _balanced(settings: Settings) -> bool:
    return reconcile_lake(Lake(settings.lake_root), money=True).balanced


def test_release_after_a_fix(tmp_path: Path) -> None:
    strict = _settings(tmp_path / "data", max_quantity=1000, max_payload_bytes=1_048_576)
    LandingLog(strict.landing_dir).append([
        _order(1, 2), _order(2, 5000), _order(3, 1, notes="x" * 1_500_000), b"{not json"])
    run_batch(strict)
    reasons = sorted(r["reason"] for r in rows(strict, QUARANTINE))
    assert reasons == ["implausible_quantity", "malformed_json", "payload_too_large"]
    assert [r["order_id"] for r in rows(strict, SILVER_ORDERS)] == ["O1"]

    # Released before the fix: the record is quarantined again, for the same reason.
    again = release_quarantine(strict, reasons=("implausible_quantity",))
    assert (again.chosen, again.released, again.already) == (1, 1, 0)
    assert sorted(r["reason"] for r in rows(strict, QUARANTINE)).count("implausible_quantity") == 2
    assert _balanced(strict)

    # The fix: a higher quantity bound, and room for the large record (kept whole beside Bronze).
    fixed = _settings(tmp_path / "data", max_quantity=10_000, max_payload_bytes=4 * 1_048_576)
    dry = release_quarantine(fixed, reasons=("implausible_quantity", "payload_too_large"), dry_run=True)
    assert (dry.chosen, dry.released, dry.already) == (3, 2, 1) and dry.pipeline is None
    bronze_before = len(rows(fixed, BRONZE_EVENTS))
    assert bronze_before == 5  # the dry run wrote nothing

    done = release_quarantine(fixed, reasons=("implausible_quantity", "payload_too_large"))
    assert (done.chosen, done.released, done.already, done.not_releasable) == (3, 2, 1, 0)
    orders = {r["order_id"]: r for r in rows(fixed, SILVER_ORDERS)}
    assert sorted(orders) == ["O1", "O2", "O3"]
    assert sum(r["total_amount"] for r in orders.values()) == Decimal("50030.00")
    assert orders["O2"]["source"] == "release" and orders["O2"]["source_position"].startswith("quarantine:")
    assert len(rows(fixed, BRONZE_EVENTS)) == bronze_before + 2
    assert _balanced(fixed)

    # Each row is released once: nothing is left to release for these reasons.
    twice = release_quarantine(fixed, reasons=("implausible_quantity", "payload_too_large"))
    assert (twice.released, twice.already, twice.batch_id) == (0, 3, None)
    assert len(rows(fixed, BRONZE_EVENTS)) == bronze_before + 2


def test_release_cli_dry_run_and_reference_without_bytes(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")  # oversized records kept by reference only
    LandingLog(settings.landing_dir).append([_order(1, 1, notes="x" * 1_100_000)])
    run_batch(settings)
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "quarantine", "release",
                                      "--reason", "payload_too_large", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert (facts["chosen"], facts["released"], facts["not_releasable"]) == (1, 0, 1)
    assert len(rows(settings, BRONZE_EVENTS)) == 1
