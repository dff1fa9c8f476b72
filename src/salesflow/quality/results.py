"""Check results: the ``ops.quality_results`` Delta table and reading back the latest run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.lake.delta import Lake
from salesflow.lake.tables import QUALITY_RESULTS

SCHEMA = pa.schema([
    ("run_id", pa.string()), ("layer", pa.string()), ("table_name", pa.string()), ("partition", pa.string()),
    ("rule", pa.string()), ("kind", pa.string()), ("action", pa.string()), ("passed", pa.bool_()),
    ("violating_rows", pa.int64()), ("sample", pa.string()), ("duration_ms", pa.float64()),
    ("checked_at", pa.timestamp("us", "UTC")),
])


@dataclass(frozen=True)
class CheckResult:
    run_id: str
    layer: str
    table_name: str
    partition: str
    rule: str
    kind: str
    action: str
    passed: bool
    violating_rows: int
    sample: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def blocking(self) -> bool:
        return self.action == "fail" and not self.passed


def write_results(lake: Lake, results: list[CheckResult]) -> None:
    """Append results; a log, so each run (reruns included) keeps its own rows."""
    if not results:
        return
    rows = [{**vars(r), "sample": json.dumps(r.sample, default=str)} for r in results]
    lake.append_log(QUALITY_RESULTS, pa.Table.from_pylist(rows, schema=SCHEMA))


def latest_run(lake: Lake, run_id: str | None = None) -> list[dict[str, Any]]:
    table = lake.read(QUALITY_RESULTS)
    if table is None or table.num_rows == 0:
        return []
    if run_id is None:
        newest = pc.max(table["checked_at"]).as_py()
        run_id = table.filter(pc.equal(table["checked_at"], newest))["run_id"][0].as_py()
    rows = table.filter(ds.field("run_id") == run_id).sort_by([("layer", "ascending"), ("table_name", "ascending"),
                                                               ("rule", "ascending")])
    return [{**r, "sample": json.loads(r["sample"])} for r in rows.to_pylist()]


def latest_per_layer(lake: Lake) -> list[dict[str, Any]]:
    """Each layer's newest run: a warehouse load after a batch does not hide the batch's Silver and
    Gold verdicts (the latest run alone would show the load's one check)."""
    table = lake.read(QUALITY_RESULTS, columns=["run_id", "layer", "checked_at"])
    if table is None or table.num_rows == 0:
        return []
    newest: dict[str, tuple[Any, str]] = {}
    for row in table.to_pylist():
        if row["layer"] not in newest or row["checked_at"] > newest[row["layer"]][0]:
            newest[row["layer"]] = (row["checked_at"], row["run_id"])
    rows = [r for run_id in dict.fromkeys(run for _, run in newest.values()) for r in latest_run(lake, run_id)
            if newest[r["layer"]][1] == r["run_id"]]
    return sorted(rows, key=lambda r: (r["layer"], r["table_name"], r["rule"]))
