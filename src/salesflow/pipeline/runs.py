"""The run log: one row per pipeline run in ``ops.pipeline_runs``, reconciliation included."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from salesflow.lake.delta import Lake
from salesflow.lake.tables import PIPELINE_RUNS

RUNS_APP = "salesflow.runs"
RUN_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("command", pa.string()), ("engine", pa.string()),
    ("started_at", pa.timestamp("us", "UTC")), ("finished_at", pa.timestamp("us", "UTC")),
    ("first_batch", pa.int64()), ("last_batch", pa.int64()),
    ("bronze_rows", pa.int64()), ("silver_events", pa.int64()), ("quarantined", pa.int64()),
    ("duplicates", pa.int64()), ("late_events", pa.int64()), ("balanced", pa.bool_()),
    ("quarantined_by_reason", pa.string()), ("schema_drift", pa.string()), ("status", pa.string()),
])


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    command: str
    engine: str
    started_at: datetime
    finished_at: datetime
    first_batch: int
    last_batch: int
    bronze_rows: int
    silver_events: int
    quarantined: int
    duplicates: int
    late_events: int
    balanced: bool
    quarantined_by_reason: dict[str, int]
    schema_drift: dict[str, int]
    status: str


def record_run(lake: Lake, run: RunRecord) -> None:
    row = {**vars(run), "quarantined_by_reason": json.dumps(run.quarantined_by_reason, sort_keys=True),
           "schema_drift": json.dumps(run.schema_drift, sort_keys=True)}
    table = pa.Table.from_pylist([row], schema=RUN_SCHEMA)
    lake.append(PIPELINE_RUNS, table, app_id=RUNS_APP, version=run.last_batch,
                metadata={"salesflow.run_id": run.run_id})
