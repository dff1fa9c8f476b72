"""The command line as a user runs it: real subprocesses, exit codes and printed output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest


def salesflow(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "salesflow", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def test_demo_prints_the_summary(tmp_path: Path) -> None:
    result = salesflow("--data-dir", str(tmp_path / "d"), "demo", "--events", "6000")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("bronze records", "silver events", "quarantined", "duplicates removed",
                     "Quarantined by reason", "Reconciliation", "holds", "total_revenue", "order_count",
                     "avg_order_value", "window_start", "fact_sales", "reconciled"):
        assert expected in out


def test_batch_json_then_rerun_reports_nothing_new(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert salesflow("--data-dir", data, "simulate", "--events", "4000", "--seed", "5").returncode == 0
    first = json.loads(salesflow("--data-dir", data, "batch", "--json").stdout)
    assert first["this_run"]["bronze_rows"] == 4000 and first["lake"]["balanced"]
    this = first["this_run"]
    assert this["silver_events"] + this["quarantined"] + this["duplicates_removed"] == 4000
    sample = first["sample_gold_record"]  # read by the batch's own engine, after Gold
    assert sample["order_count"] > 0 and sample["total_revenue"] > 0 and sample["window_start"].endswith("Z")
    spent = first["seconds_by_part"]  # where the time went: every stage of the run has its part
    assert {"bronze read", "bronze write", "silver models", "gold models", "delta write", "gates",
            "reconciliation", "dedupe state"} <= spent.keys() and min(spent.values()) >= 0
    second = json.loads(salesflow("--data-dir", data, "batch", "--json").stdout)
    assert second["batches"] == [] and second["this_run"]["bronze_rows"] == 0
    assert second["lake"] == first["lake"]
    assert salesflow("--data-dir", data, "reconcile").returncode == 0


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = salesflow("batch", env={"SALESFLOW__ENGINE__NAME": "oracle"}, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "engine.name" in lines[0] and "'duckdb'" in lines[0] and "Traceback" not in result.stderr


def test_bad_config_file_value_exit_2(tmp_path: Path) -> None:
    (tmp_path / "salesflow.yaml").write_text("pipeline:\n  max_payload_bytes: tiny\n")
    result = salesflow("status", cwd=tmp_path)
    assert result.returncode == 2 and "pipeline.max_payload_bytes" in result.stderr


def test_json_schema_export(tmp_path: Path) -> None:
    result = salesflow("contract", "--json-schema", cwd=tmp_path)
    schema = json.loads(result.stdout)
    assert result.returncode == 0 and schema["x-contract-version"] == 1
    assert {"OrderCreated", "ProductViewed", "AddToCart"} <= set(schema["$defs"])


def test_contract_validate_points_at_bad_lines(tmp_path: Path) -> None:
    good = '{"event_type":"product_viewed","event_id":"a","event_time":"2026-01-01T00:00:00Z",' \
           '"session_id":"s","product_id":"p","store_id":"x","channel":"web"}'
    path = tmp_path / "events.jsonl"
    path.write_text(good + "\n" + '{"event_type":"product_viewed"}' + "\n")
    result = salesflow("contract", "--validate", str(path), cwd=tmp_path)
    assert result.returncode == 1 and "events.jsonl:2" in result.stdout and "events.jsonl:1" not in result.stdout


@pytest.mark.parametrize("args,message", [
    (("simulate", "--defect", "gremlins=0.1"), "unknown defect kind"),
    (("simulate", "--defect", "duplicate=7"), "RATE in [0, 1]"),
    (("simulate", "--rate", "10"), "--rate and --duration go together"),
])
def test_simulate_rejects_bad_options(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = salesflow(*args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr


def test_realtime_simulation_writes_current_events(tmp_path: Path) -> None:
    data = tmp_path / "d"
    result = salesflow("--data-dir", str(data), "simulate", "--rate", "400", "--duration", "2", "--clean",
                       timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [
        json.loads(line) for f in sorted((data / "landing").glob("*.jsonl")) for line in f.read_text().splitlines()
    ]
    assert len(lines) == 800
    now = datetime.now(UTC)
    times = [datetime.fromisoformat(line["event_time"].replace("Z", "+00:00")) for line in lines]
    assert all(abs((now - t).total_seconds()) < 60 for t in times)


def test_batch_on_an_empty_data_dir_is_a_no_op(tmp_path: Path) -> None:
    result = salesflow("--data-dir", str(tmp_path / "empty"), "batch")
    assert result.returncode == 0 and "Nothing new" in result.stdout and "holds" in result.stdout


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_reader_that_went_away_is_exit_1_without_a_traceback(tmp_path: Path, unbuffered: bool) -> None:
    """`salesflow ... | head -1`: the pipe closes before the output is written (at the final flush
    when stdout is buffered, inside the command when it is not, where click handles it)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    try:
        result = subprocess.run([sys.executable, "-m", "salesflow", "contract", "--reference"], stdout=write_end,
                                stderr=subprocess.PIPE, env=env, text=True, cwd=tmp_path, timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
