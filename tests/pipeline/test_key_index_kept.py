"""The key index is kept beside the checkpoints (#28): a new process loads it instead of hashing
every id Silver holds, and it is dropped whenever it could be short of a key (a Silver rebuild, a
lake that is not the one it describes)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from salesflow.config import Settings, load_settings
from salesflow.jobs import run_batch
from salesflow.jobs.backfill import backfill
from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_CART_ADDS, SILVER_ORDERS, SILVER_PRODUCT_VIEWS
from salesflow.silver.key_index import KeyIndex, silver_marker
from salesflow.simulator import SimulationSpec
from tests.conftest import land
from tests.pipeline.lakeview import rows

SPEC = SimulationSpec(events=2_000, seed=11, start=date(2026, 9, 1), days=2)


def _loaded(settings: Settings) -> KeyIndex:
    index = KeyIndex(Lake(settings.lake_root), settings.checkpoint_dir / "silver-key-index")
    index._load()
    return index


def _silver_keys(settings: Settings) -> int:
    orders = rows(settings, SILVER_ORDERS)
    others = len(rows(settings, SILVER_PRODUCT_VIEWS)) + len(rows(settings, SILVER_CART_ADDS))
    return 2 * len(orders) + others


def test_a_new_process_loads_the_kept_index(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"dedupe_horizon_hours": 1.0})
    land(settings, SPEC)
    run_batch(settings)
    land(settings, SimulationSpec(events=1_000, seed=12, start=date(2026, 9, 3), days=1))
    run_batch(settings)  # a second batch: the index is loaded, caught up and kept again
    lake = Lake(settings.lake_root)
    index = _loaded(settings)
    assert index.covered_below == silver_marker(lake) + 1
    assert len(index) == _silver_keys(settings)  # every accepted event id and order id, from disk
    runs = sum(len(r.runs) for r in index.runs.values())
    files = list((settings.checkpoint_dir / "silver-key-index").glob("*.npy"))
    assert len(files) == 2 * runs  # merged-away runs were deleted

    # The loaded index answers like a rebuilt one: the same traffic again is all duplicates.
    land(settings, SPEC, per_segment=500)
    result = run_batch(settings)
    assert result.total("silver_events") == 0 and result.total("duplicates") > 0
    assert result.reconciliation is not None and result.reconciliation.balanced
    assert _loaded(settings).covered_below == silver_marker(lake) + 1


def test_a_silver_rebuild_or_another_lake_drops_it(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    land(settings, SPEC)
    run_batch(settings)
    assert len(_loaded(settings)) > 0

    backfill(settings, date(2026, 9, 1), date(2026, 9, 1), layers=("silver",))
    assert len(_loaded(settings)) == 0  # a rebuild may accept keys under covered batches: cold again
    land(settings, SPEC)
    run_batch(settings)  # the next batch rebuilds from Silver and keeps it again
    assert len(_loaded(settings)) == _silver_keys(settings)

    shutil.rmtree(settings.lake_root)  # the lake replaced, the checkpoints kept
    assert len(_loaded(settings)) == 0
