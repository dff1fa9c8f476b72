"""Hostile sizes do not make the lake unreadable (#28): an oversized record is kept in Bronze by
reference, and no Delta log entry or Parquet footer holds a long string."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesflow.cli.main import cli
from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, QUARANTINE, SILVER_ORDERS
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.sources.landing import LandingLog
from tests.pipeline.lakeview import rows

ORDER = {
    "event_type": "order_created", "schema_version": 1, "event_id": "E1", "event_time": "2026-09-01T10:00:00Z",
    "order_id": "O1", "customer_id": "C1", "store_id": "S1", "channel": "web", "currency": "USD",
    "payment_method": "card", "lines": [{"product_id": "P1", "quantity": 2, "unit_price": 10.5}],
    "total_amount": 21.0,
}
BIG = json.dumps({**ORDER, "event_id": "E-big", "order_id": "O-big", "notes": "x" * 5_000_000}).encode()
LONG_ID = json.dumps({**ORDER, "event_id": "E" * 200_000, "order_id": "O-long"}).encode()


def _land(settings: Settings) -> None:
    LandingLog(settings.landing_dir).append([json.dumps(ORDER).encode(), BIG, LONG_ID])
    run_batch(settings)


def _largest_log_entry(settings: Settings) -> int:
    return max(p.stat().st_size for p in Path(settings.lake_root).glob("*/*/_delta_log/*.json"))


@pytest.mark.parametrize("keep", [False, True])
def test_oversized_record_is_kept_by_reference(tmp_path: Path, keep: bool) -> None:
    settings = load_settings(data_dir=tmp_path / "data", pipeline={"keep_oversized_payloads": keep})
    _land(settings)

    bronze = {r["source_position"].rsplit(":", 1)[1]: r for r in rows(settings, BRONZE_EVENTS)}
    assert len(bronze) == 3
    assert bronze["2"]["ingest_error"] == "payload_too_large"
    reference = json.loads(bronze["2"]["payload"])["oversized_payload"]
    assert reference["bytes"] == len(BIG) and reference["sha256"] == hashlib.sha256(BIG).hexdigest()
    assert BIG.decode().startswith(reference["prefix"]) and len(reference["prefix"]) == 512
    if keep:
        assert Path(reference["kept_at"]).read_bytes() == BIG
    else:
        assert reference["kept_at"] is None and not (settings.data_dir / "oversized").exists()
    assert len(bronze["2"]["payload"]) < 2_000 and bronze["3"]["payload"] == LONG_ID.decode()

    quarantine = {r["source_position"].rsplit(":", 1)[1]: r["reason"] for r in rows(settings, QUARANTINE)}
    assert quarantine == {"2": "payload_too_large", "3": "invalid_value"}  # an id over 128 characters
    assert [r["event_id"] for r in rows(settings, SILVER_ORDERS)] == ["E1"]
    assert reconcile_lake(Lake(settings.lake_root), money=True).balanced

    # No log entry carries a long string (the 200,000-character id included), and every
    # table's Parquet footers still open: the status command reads them all.
    assert _largest_log_entry(settings) < 20_000
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "status", "--json"])
    assert result.exit_code == 0, result.output
    assert Lake(settings.lake_root).read(QUARANTINE).num_rows == 2  # type: ignore[union-attr]
