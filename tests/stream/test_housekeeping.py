"""A stream keeps its tables compacted while it is busy, one table between micro-batches."""

from __future__ import annotations

import json
from pathlib import Path

from salesflow.config import load_settings
from salesflow.jobs.lake import reconcile
from salesflow.jobs.stream import run_stream
from salesflow.lake.delta import Lake
from salesflow.lake.tables import ALL_TABLES, BRONZE_EVENTS, SILVER_ORDERS
from salesflow.simulator import SimulationSpec
from tests.conftest import land


def test_a_busy_stream_maintains_every_table_one_per_micro_batch(tmp_path: Path) -> None:
    """The backlog is one uninterrupted run of micro-batches (the source never goes idle in it),
    and still every table is compacted and checkpointed, and nothing is lost or doubled."""
    settings = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 1},
                             stream={"maintenance_every_batches": 1})
    records = land(settings, SimulationSpec(events=2_400, seed=8, days=2), per_segment=100)
    stats = run_stream(settings, "landing", available_now=True)
    assert stats.batches == 24 > len(ALL_TABLES)
    lake = Lake(settings.lake_root)
    for spec in (BRONZE_EVENTS, SILVER_ORDERS):
        log = Path(lake.uri(spec)) / "_delta_log"
        assert (log / "_last_checkpoint").exists(), f"{spec.qualified} was not maintained"
        operations = [operation(commit) for commit in sorted(log.glob("*.json"))]
        compacted = operations.index("OPTIMIZE")
        assert "WRITE" in operations[compacted:], f"{spec.qualified} was maintained only once the backlog was done"
        table = lake.table(spec)
        assert table is not None and len(table.file_uris()) < 24  # compacted: fewer files than batches
    bronze = lake.read(BRONZE_EVENTS, columns=["source_position"])
    assert bronze is not None and bronze.num_rows == len(set(bronze["source_position"].to_pylist())) == len(records)
    assert reconcile(settings).balanced


def operation(commit: Path) -> str:
    """The operation a Delta commit file records (WRITE, OPTIMIZE ...)."""
    for line in commit.read_text().splitlines():
        action = json.loads(line)
        if "commitInfo" in action:
            return str(action["commitInfo"].get("operation"))
    return "?"
