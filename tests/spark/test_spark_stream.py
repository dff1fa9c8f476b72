"""``salesflow spark stream`` (Structured Streaming, availableNow, landing files) matches the batch
runner, and neither a replay nor a lost Spark checkpoint writes a record twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from salesflow.config import Settings
from salesflow.jobs.batch import run_batch
from salesflow.jobs.spark_stream import run_spark_stream
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, GOLD_TABLES, SILVER_TABLES, TableSpec
from salesflow.simulator import SimulationSpec
from tests.conftest import land, noisy
from tests.spark.conftest import engine_settings, same, table_rows

SPEC = SimulationSpec(events=4_500, seed=23, days=3, defects=noisy())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, spark_session: object) -> dict[str, Settings]:
    base = tmp_path_factory.mktemp("spark-stream")
    # One landing segment per Bronze batch on both sides, so batch ids and record_seq agree: the
    # same setting bounds the batch runner's batches and the stream's micro-batches (maxBytesPerTrigger).
    batch = engine_settings(base, "duckdb", pipeline={"max_batch_bytes": 1})
    stream = engine_settings(base, "spark", pipeline={"max_batch_bytes": 1})
    land(batch, SPEC, per_segment=1_500)
    shutil.copytree(batch.landing_dir, stream.landing_dir)
    run_batch(batch)
    result = run_spark_stream(stream, available_now=True)
    assert result.epochs == 3 and result.records == SPEC.events
    assert result.reconciliation is not None and result.reconciliation.balanced
    return {"batch": batch, "stream": stream}


@pytest.mark.parametrize("spec", [BRONZE_EVENTS, *SILVER_TABLES, *GOLD_TABLES], ids=lambda s: s.qualified)
def test_stream_matches_batch(runs: dict[str, Settings], spec: TableSpec) -> None:
    batch, stream = table_rows(runs["batch"], spec), table_rows(runs["stream"], spec)
    assert len(batch) == len(stream) > 0
    for left, right in zip(batch, stream, strict=True):
        differing = {k: (left[k], right[k]) for k in left if not same(left[k], right[k])}
        assert not differing, f"{spec.qualified}: {differing}"


def test_rerun_and_lost_checkpoint_write_nothing_twice(runs: dict[str, Settings]) -> None:
    stream = runs["stream"]
    lake = Lake(stream.lake_root)
    versions = {spec: lake.version(spec) for spec in (BRONZE_EVENTS, *SILVER_TABLES)}

    again = run_spark_stream(stream, available_now=True)  # the checkpoint says: nothing new
    assert (again.epochs, again.records) == (0, 0)

    shutil.rmtree(Path(stream.checkpoint_dir) / "spark")  # Spark forgets which files it read
    # ... and reads them again two segments per micro-batch: spark.max_files_per_trigger, when set,
    # bounds a micro-batch instead of pipeline.max_batch_bytes
    by_files = stream.model_copy(update={
        "pipeline": stream.pipeline.model_copy(update={"max_batch_bytes": None}),
        "spark": stream.spark.model_copy(update={"max_files_per_trigger": 2})})
    replay = run_spark_stream(by_files, available_now=True)
    assert replay.records == 0 and replay.skipped_files == 3  # Bronze knows them by name
    assert replay.epochs == 2
    assert {spec: lake.version(spec) for spec in versions} == versions

    # The embedded runner on the same landing log sees the Spark job's commits as its own.
    after = run_batch(stream.model_copy(update={"engine": stream.engine.model_copy(update={"name": "duckdb"})}))
    assert after.bronze_rows == 0
    assert lake.read(BRONZE_EVENTS).num_rows == SPEC.events  # type: ignore[union-attr]


def test_spark_submit_runs_the_same_command_line(tmp_path: Path) -> None:
    """The documented spark-submit line: master from spark-submit, the job from salesflow.spark_submit."""
    import json
    import os
    import subprocess
    import sys

    import salesflow.spark_submit as entry

    settings = engine_settings(tmp_path, "spark")
    land(settings, SimulationSpec(events=400, seed=5, days=1, defects=noisy()))
    submit = Path(sys.executable).parent / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(
        [str(submit), "--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=2",
         "--conf", "spark.ui.showConsoleProgress=false", entry.__file__,
         "--data-dir", str(settings.data_dir), "spark", "stream", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["records"] == 400 and facts["reconciles"] is True
    assert Lake(settings.lake_root).read(BRONZE_EVENTS).num_rows == 400  # type: ignore[union-attr]


def test_a_file_whose_name_needs_escaping_is_read_once(tmp_path: Path, spark_session: object) -> None:
    """A file dropped into the landing log under a name with a space, a percent sign and glob
    characters: Spark lists it as a URI; the stream reads it (and only it) and, with its
    checkpoint lost, knows it by name in Bronze and skips it."""
    settings = engine_settings(tmp_path, "spark")
    settings.landing_dir.mkdir(parents=True)
    (settings.landing_dir / "partner export [1] 50%20.jsonl").write_bytes(b'{"x":1}\n{"y":2}\n')
    first = run_spark_stream(settings, available_now=True)
    assert (first.records, first.skipped_files) == (2, 0)
    shutil.rmtree(Path(settings.checkpoint_dir) / "spark")
    again = run_spark_stream(settings, available_now=True)
    assert (again.records, again.skipped_files) == (0, 1)
    bronze = Lake(settings.lake_root).read(BRONZE_EVENTS)
    assert bronze is not None
    assert set(bronze["source_file"].to_pylist()) == {"partner export [1] 50%20.jsonl"}
