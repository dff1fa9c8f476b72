"""Time travel: status, show and query answer for the lake as it was, while the lake moves on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from salesflow.config import load_settings
from salesflow.jobs import run_batch
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.maintenance import maintain
from salesflow.lake.tables import BRONZE_EVENTS, SILVER_ORDER_LINES
from salesflow.simulator import SimulationSpec
from tests.conftest import land


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(data), *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_as_of_answers_for_the_past(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    first = land(settings, SimulationSpec(events=3_000, seed=31, start=date(2026, 9, 1), days=5))
    run_batch(settings)
    lines = Lake(settings.lake_root).read(SILVER_ORDER_LINES)
    assert lines is not None
    revenue_then = sum(lines["revenue"].to_pylist(), Decimal(0))
    time.sleep(1.1)
    instant = datetime.now(UTC).isoformat()
    time.sleep(1.1)
    second = land(settings, SimulationSpec(events=2_000, seed=32, start=date(2026, 9, 1), days=5))
    run_batch(settings)
    load_warehouse(settings)

    status_now = {r["table"]: r for r in json.loads(cli(settings.data_dir, "status", "--json").stdout)}
    status_then = {r["table"]: r for r in json.loads(cli(settings.data_dir, "status", "--json", "--as-of",
                                                         instant).stdout)}
    assert status_now["bronze.events"]["rows"] == len(first) + len(second)
    assert status_then["bronze.events"]["rows"] == len(first)
    assert status_then["bronze.events"]["version"] == status_now["bronze.events"]["version"] - 1
    assert status_then["bronze.events"]["last_update"] < instant  # ISO 8601 both
    assert status_now["silver.orders"]["lag_batches"] == 0
    assert status_then["gold.demand_predictions"]["version"] is None  # did not exist then

    shown = cli(settings.data_dir, "show", "bronze.events", "--as-of", "0", "--limit", "3", "--format", "json")
    assert len(json.loads(shown.stdout)) == 3 and f"version 0: {len(first):,} rows" in shown.stderr

    answer = json.loads(cli(settings.data_dir, "query", "daily_revenue", "--format", "json", "--as-of",
                            instant).stdout)
    assert sum(Decimal(str(r["revenue"])) for r in answer) == revenue_then
    now = json.loads(cli(settings.data_dir, "query", "daily_revenue", "--format", "json").stdout)
    assert sum(Decimal(str(r["revenue"])) for r in now) > revenue_then


def test_maintenance_optimizes_and_keeps_every_row(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 200_000})
    land(settings, SimulationSpec(events=4_000, seed=33, days=3), per_segment=500)
    run_batch(settings)
    lake = Lake(settings.lake_root)
    before = {spec: lake.read(spec).num_rows for spec in (BRONZE_EVENTS, SILVER_ORDER_LINES)}  # type: ignore[union-attr]
    files_before = len(lake.table(SILVER_ORDER_LINES).file_uris())  # type: ignore[union-attr]
    done = {m.table: m for m in maintain(lake, retention_hours=1)}
    assert done["silver.order_lines"].files_after < files_before
    history = lake.table(SILVER_ORDER_LINES).history()  # type: ignore[union-attr]
    assert history[0]["operation"] == "OPTIMIZE"  # (delta-rs records a z-order as a plain OPTIMIZE)
    assert {spec: lake.read(spec).num_rows for spec in before} == before  # type: ignore[union-attr]
