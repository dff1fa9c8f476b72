"""Backfill rebuilds a date range from Bronze exactly as the original run wrote it, and resumes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, GOLD_TABLES, SILVER_TABLES, TableSpec
from salesflow.pipeline.reconcile import reconcile_lake
from salesflow.simulator import SimulationSpec
from tests.conftest import land, noisy

FIRST, LAST = date(2026, 9, 8), date(2026, 9, 12)
VOLATILE = {"updated_at", "loaded_at"}  # when a row was (re)built, not what it says


def snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    lake = Lake(settings.lake_root)
    out: dict[str, list[tuple[Any, ...]]] = {}
    spec: TableSpec
    for spec in (*SILVER_TABLES, *GOLD_TABLES):
        table = lake.read(spec)
        assert table is not None
        columns = [c for c in table.column_names if c not in VOLATILE]
        out[spec.qualified] = sorted((tuple(map(str, r.values())) for r in table.select(columns).to_pylist()))
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for name in ("fact_sales", "agg_daily_sales", "agg_category_revenue", "agg_funnel_daily"):
            out[f"warehouse.{name}"] = sorted(
                tuple(map(str, r)) for r in con.execute(f"SELECT * FROM {name}").fetchall()
            )
    return out


def backfill(settings: Settings, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "backfill",
                             "--from", FIRST.isoformat(), "--to", LAST.isoformat(), "--json", *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout))


def pipeline_run(tmp_path: Path, max_batch_bytes: int, spec: SimulationSpec, per_segment: int) -> Settings:
    """A noisy lake in several Bronze batches, through the warehouse."""
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": max_batch_bytes})
    land(settings, spec, per_segment=per_segment)
    run_batch(settings)
    load_warehouse(settings)
    return settings


def wipe(lake: Lake, specs: tuple[TableSpec, ...], predicate: str) -> None:
    """Delete the rows matching ``predicate`` from each table: the damage a backfill must undo."""
    for spec in specs:
        table = lake.read(spec)
        assert table is not None
        lake.replace_rows(spec, table.schema.empty_table(), predicate)


def test_backfill_restores_a_damaged_range_exactly_and_resumes(tmp_path: Path) -> None:
    settings = pipeline_run(tmp_path, 600_000, SimulationSpec(events=12_000, seed=21, start=date(2026, 9, 1), days=20,
                                                              defects=noisy()), per_segment=1_000)
    original = snapshot(settings)
    assert len(original["silver.orders"]) > 500

    untouched = backfill(settings)  # on a healthy lake: nothing changes
    assert len(untouched["silver_batches_rebuilt"]) > 3
    assert snapshot(settings) == original

    # Damage the range in every layer: lose silver and gold partitions, delete warehouse facts.
    lake = Lake(settings.lake_root)
    in_range = f"event_date >= '{FIRST}' AND event_date <= '{LAST}'"
    wipe(lake, (*SILVER_TABLES, *GOLD_TABLES), in_range)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(f"DELETE FROM fact_sales WHERE {in_range}")
        con.execute(f"DELETE FROM agg_daily_sales WHERE {in_range}")
    assert snapshot(settings) != original
    assert not reconcile_lake(lake).balanced

    (settings.checkpoint_dir / "backfill.json").unlink()
    restored = backfill(settings)
    assert restored["silver_batches_rebuilt"] == untouched["silver_batches_rebuilt"]
    assert snapshot(settings) == original
    assert reconcile_lake(Lake(settings.lake_root)).balanced

    again = backfill(settings)  # the same range again: resumes past every rebuilt batch
    assert (
        again["silver_batches_rebuilt"] == [] and again["silver_batches_skipped"] == restored["silver_batches_rebuilt"]
    )
    assert snapshot(settings) == original


def test_replay_from_a_bronze_version_rebuilds_downstream(tmp_path: Path) -> None:
    settings = pipeline_run(tmp_path, 400_000, SimulationSpec(events=6_000, seed=22, start=date(2026, 9, 1), days=10,
                                                              defects=noisy()), per_segment=800)
    original = snapshot(settings)
    lake = Lake(settings.lake_root)
    bronze = lake.table(BRONZE_EVENTS)
    assert bronze is not None and bronze.version() >= 3
    from_version = bronze.version() - 1  # the last two Bronze commits
    later = {int(c["salesflow.batch_id"]) for c in bronze.history() if c["version"] >= from_version}
    import pyarrow.dataset as ds

    touched = lake.distinct(SILVER_TABLES[:3], "event_date", ds.field("batch_id").isin(list(later)))
    # Lose what those batches produced, and the gold days they fed.
    wipe(lake, SILVER_TABLES, f"batch_id IN ({', '.join(map(str, later))})")
    wipe(lake, GOLD_TABLES, "event_date IN (" + ", ".join(f"'{d}'" for d in touched) + ")")
    assert not reconcile_lake(lake).balanced
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "replay",
                             "--from-bronze-version", str(from_version), "--json"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(json.loads(result.stdout)["silver_batches_rebuilt"]) == sorted(later)
    assert snapshot(settings) == original
    assert reconcile_lake(Lake(settings.lake_root)).balanced
