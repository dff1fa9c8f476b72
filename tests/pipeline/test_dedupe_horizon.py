"""Dedupe state across batches: full keys within the horizon of the batch's oldest event, and the
key index (silver/key_index.py) for every key before it: an id accepted once is never accepted again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesflow.config import load_settings
from salesflow.jobs import run_batch
from salesflow.lake.tables import DUPLICATES, SILVER_ORDERS
from salesflow.sources.landing import LandingLog
from tests.pipeline.lakeview import rows

ORDER = {"event_type": "order_created", "event_id": "E1", "event_time": "2026-09-01T10:00:00Z", "order_id": "O1",
         "customer_id": "C1", "store_id": "S1", "channel": "web", "currency": "USD", "payment_method": "card",
         "lines": [{"product_id": "P1", "quantity": 1, "unit_price": 10.0}], "total_amount": 10.0}


@pytest.mark.parametrize("horizon_hours", [72.0, 1.0])
def test_order_resent_two_days_later(tmp_path: Path, horizon_hours: float) -> None:
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"dedupe_horizon_hours": horizon_hours})
    landing = LandingLog(settings.landing_dir)
    landing.append([json.dumps(ORDER).encode()])
    run_batch(settings)
    resent = {**ORDER, "event_id": "E2", "event_time": "2026-09-03T10:00:00Z"}  # same order, new event
    landing.append([json.dumps(resent).encode()])
    run_batch(settings)
    landing.append([json.dumps(ORDER).encode()])  # and, later, an exact replay of the first event
    run_batch(settings)
    duplicates = {d["event_id"]: d["duplicate_key"] for d in rows(settings, DUPLICATES)}
    assert duplicates.get("E1") == "event_id"  # an exact replay: same event date
    assert duplicates.get("E2") == "order_id"  # beyond a 1-hour horizon too: the key index holds it
    assert len(rows(settings, SILVER_ORDERS)) == 1


def test_state_kept_between_batches_equals_a_read_of_silver(tmp_path: Path) -> None:
    """One run keeps the dedupe state in memory between its batches; it must hold exactly the rows
    a fresh read of Silver returns, and any commit but our own (here a compaction) must send it
    back to the read."""
    from datetime import timedelta

    from salesflow.context import RunContext
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.lake.delta import Lake
    from salesflow.lake.maintenance import maintain
    from salesflow.pipeline.runner import Runner, landing_source
    from salesflow.silver.state import SeenState
    from salesflow.simulator import SimulationSpec
    from tests.conftest import land, noisy

    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 40_000})
    land(settings, SimulationSpec(events=3_000, seed=11, days=2, defects=noisy()), per_segment=200)
    ctx = RunContext(settings)
    lake, engine = ctx.lake, DuckDBEngine()
    runner = Runner(ctx, engine, landing_source(settings, lake, engine))
    result = runner.run()
    assert len(result.silver) >= 5 and result.total("duplicates") > 0 and result.reconciliation.balanced
    state = runner.silver.state
    assert state.reads == 1  # read once, then kept and grown batch by batch
    kept = state._kept
    assert kept is not None
    after = kept.below
    oldest = kept.from_day + state.horizon + timedelta(days=1)  # a batch that needs no older rows

    def ordered(tables: dict) -> dict[str, list[dict[str, object]]]:
        return {s.name: sorted(t.to_pylist(), key=lambda r: r["event_id"]) for s, t in tables.items()}

    fresh = SeenState(lake, settings.pipeline.dedupe_horizon_hours).for_batch(after, oldest, False)
    assert ordered(state.for_batch(after, oldest, True)) == ordered(fresh)
    assert sum(t.num_rows for t in fresh.values()) > 0 and state.reads == 1
    maintain(Lake(settings.lake_root), retention_hours=168)  # another writer's commit
    assert ordered(state.for_batch(after, oldest, True)) == ordered(fresh)
    assert state.reads == 2
