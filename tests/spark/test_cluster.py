"""The Spark engine on ``local-cluster[2,1,1024]``: two executor JVMs, each with its own Python
workers, so a table's rows can only reach the lake through the executors' own files. The batch
gives the same Silver and Gold tables as DuckDB with ``spark.driver.maxResultSize=1m``, Spark's
smallest: the landing log is over 1 MiB and every Bronze row carries its payload, so a collect or
toArrow of a table anywhere on the path (as before #25) would have failed the job. That bound
scales: what comes back is per file and per batch (add actions, counts, samples), never per row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from salesflow.config import Settings
from salesflow.context import as_context
from salesflow.gold.status import sample_gold_record
from salesflow.jobs.batch import run_batch
from salesflow.lake.tables import GOLD_TABLES, SILVER_TABLES
from salesflow.simulator import SimulationSpec
from tests.conftest import land, noisy
from tests.spark.conftest import engine_settings, same, table_rows

SPEC = SimulationSpec(events=4_000, seed=17, days=3, defects=noisy())


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Settings]:
    base = tmp_path_factory.mktemp("cluster")
    duck, spark = engine_settings(base, "duckdb"), engine_settings(base, "spark")
    land(duck, SPEC, per_segment=1_000)
    assert sum(p.stat().st_size for p in duck.landing_dir.rglob("*") if p.is_file()) > 1024 * 1024
    shutil.copytree(duck.landing_dir, spark.landing_dir)
    run_batch(duck)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SALESFLOW__ENGINE__NAME": "spark",
           "SALESFLOW__SPARK__MASTER": "local-cluster[2,1,1024]", "SALESFLOW__SPARK__SHUFFLE_PARTITIONS": "2",
           "SALESFLOW__SPARK__CONF": '{"spark.driver.maxResultSize": "1m"}'}
    done = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(spark.data_dir), "batch", "--json"],
                          capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (spark.data_dir / "batch.json").write_text(done.stdout)
    return {"duckdb": duck, "spark": spark}


def test_the_sample_record_is_the_same_as_duckdbs(lakes: dict[str, Settings]) -> None:
    """The CLI's sample Gold record comes from the batch's own session, read on the executors."""
    ctx = as_context(lakes["duckdb"])
    with ctx.engine() as engine:
        expected = sample_gold_record(ctx.lake, engine)
    shown = json.loads((lakes["spark"].data_dir / "batch.json").read_text())["sample_gold_record"]
    assert expected is not None and shown is not None
    assert shown["category"] == expected["category"] and shown["window_start"] == expected["window_start"]
    assert shown["order_count"] == expected["order_count"] > 0
    assert abs(shown["total_revenue"] - expected["total_revenue"]) < 0.005


@pytest.mark.parametrize("spec", [*SILVER_TABLES, *GOLD_TABLES], ids=lambda s: s.qualified)
def test_two_executor_jvms_write_the_same_tables(lakes: dict[str, Settings], spec: object) -> None:
    duck, spark = table_rows(lakes["duckdb"], spec), table_rows(lakes["spark"], spec)  # type: ignore[arg-type]
    assert len(duck) == len(spark) > 0
    for left, right in zip(duck, spark, strict=True):
        assert all(same(left[k], right[k]) for k in left), f"{left} != {right}"


def test_the_files_are_the_executors(lakes: dict[str, Settings]) -> None:
    """Every Silver and Gold data file was written by a task, named for its app and batch."""
    for spec in (*SILVER_TABLES, *GOLD_TABLES):
        files = list((Path(lakes["spark"].lake_root) / spec.layer / spec.name).rglob("*.parquet"))
        assert files and all("-b" in f.name and not f.name.startswith("part-") for f in files), spec.qualified
