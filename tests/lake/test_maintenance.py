from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from salesflow.config import load_settings
from salesflow.jobs import reconcile_lake, run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.maintenance import maintain
from salesflow.lake.tables import BRONZE_EVENTS, SILVER_ORDERS, SILVER_TABLES
from salesflow.silver import SILVER_APP
from salesflow.simulator import SimulationSpec
from tests.conftest import land
from tests.pipeline.lakeview import fingerprint


def test_compaction_keeps_data_and_batch_markers(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 100_000})
    land(settings, SimulationSpec(events=4_000, seed=3, days=2), per_segment=400)
    run_batch(settings)
    lake = Lake(settings.lake_root)
    before = {k: v[1:] for k, v in fingerprint(settings).items()}  # rows and sums, not versions
    markers = {spec.qualified: lake.txn_version(spec, SILVER_APP) for spec in SILVER_TABLES}
    files = len(lake.table(SILVER_ORDERS).file_uris())  # type: ignore[union-attr]
    report = {m.table: m for m in maintain(lake, retention_hours=168)}
    assert report["silver.orders"].files_after < files == report["silver.orders"].files_before
    assert report[BRONZE_EVENTS.qualified].files_after == 1
    assert {k: v[1:] for k, v in fingerprint(settings).items()} == before
    assert {spec.qualified: lake.txn_version(spec, SILVER_APP) for spec in SILVER_TABLES} == markers
    assert run_batch(settings).silver == [] and reconcile_lake(lake).balanced


def test_vacuum_retention_has_a_floor(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        maintain(Lake(str(tmp_path)), retention_hours=0)


def test_gold_folded_batch_by_batch_equals_whole_days(tmp_path: Path) -> None:
    """Gold adds each Silver batch to the rows it touches. Folding every batch, before and after
    compaction merged Silver's files, gives exactly the tables computed from whole days; the
    pending batches come from the Delta log's per-file batch_id ranges."""
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.gold import GoldBuilder
    from salesflow.lake.tables import GOLD_TABLES

    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 100_000})
    land(settings, SimulationSpec(events=4_000, seed=5, days=3), per_segment=400)
    run_batch(settings)
    lake = Lake(settings.lake_root)
    batches = lake.distinct((BRONZE_EVENTS,), "batch_id")
    assert len(batches) >= 3

    def gold_rows() -> dict[str, list[dict[str, object]]]:
        out = {}
        for spec in GOLD_TABLES:
            table = Lake(settings.lake_root).read(spec)
            assert table is not None
            rows = table.drop_columns([c for c in ("updated_at",) if c in table.column_names]).to_pylist()
            out[spec.name] = sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))
        return out

    folded = gold_rows()
    assert sum(r["orders"] for r in folded["category_revenue"]) > 0
    assert GoldBuilder(lake, DuckDBEngine()).pending_batches(max(batches)) == []  # all in gold already
    maintain(lake, retention_hours=168)
    shutil.rmtree(Path(settings.lake_root) / "gold")  # gold from scratch: every Silver batch is pending
    gold = GoldBuilder(Lake(settings.lake_root), DuckDBEngine())
    assert gold.pending_batches(max(batches)) == batches
    for batch_id in batches:  # folded again, from compacted files
        gold.build(batch_id)
    assert gold_rows() == folded
    dates = tuple(sorted({r["event_date"] for r in folded["daily_sales"]}))
    assert GoldBuilder(Lake(settings.lake_root), DuckDBEngine()).rebuild(dates)["daily_sales"] > 0  # whole days
    assert gold_rows() == folded
