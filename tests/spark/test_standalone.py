"""The README's spark-submit line against a real standalone cluster: a Spark master and a worker
(their own JVMs, started with pyspark's ``spark-class``), the batch submitted with
``spark-submit --master spark://...``. The lake it writes equals the DuckDB engine's."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from salesflow.jobs.batch import run_batch
from salesflow.lake.tables import SILVER_ORDER_LINES, SILVER_ORDERS
from salesflow.simulator import SimulationSpec
from tests.conftest import land, noisy
from tests.spark.conftest import engine_settings, table_rows

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
       "SPARK_LOCAL_IP": "127.0.0.1"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(log: Path, text: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    """Wait for a daemon's log line (bounded: a JVM that never comes up fails the test, a slow one does not)."""
    deadline = time.monotonic() + seconds
    while text not in (log.read_text(errors="replace") if log.exists() else ""):
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, f"no {text!r} in {log}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("standalone")
    port = _port()
    url = f"spark://127.0.0.1:{port}"
    daemons = []
    try:
        with (logs / "master.log").open("wb") as out:
            daemons.append(subprocess.Popen(
                [str(BIN / "spark-class"), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(port), "--webui-port", str(_port())], stdout=out, stderr=out, env=ENV))
        _until(logs / "master.log", "ALIVE", daemons[0])
        with (logs / "worker.log").open("wb") as out:
            daemons.append(subprocess.Popen(
                [str(BIN / "spark-class"), "org.apache.spark.deploy.worker.Worker", url, "--cores", "2",
                 "--memory", "1g", "--webui-port", str(_port()), "--work-dir", str(logs / "work")],
                stdout=out, stderr=out, env=ENV))
        _until(logs / "master.log", "Registering worker", daemons[1])
        yield url
    finally:
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            daemon.wait(timeout=60)


def test_spark_submit_batch_on_a_standalone_master(master: str, tmp_path: Path) -> None:
    import salesflow.spark_submit as entry

    duck, spark = engine_settings(tmp_path, "duckdb"), engine_settings(tmp_path, "spark")
    land(duck, SimulationSpec(events=2_000, seed=9, days=2, defects=noisy()), per_segment=700)
    shutil.copytree(duck.landing_dir, spark.landing_dir)
    run_batch(duck)
    done = subprocess.run(
        [str(BIN / "spark-submit"), "--master", master, "--executor-memory", "1g",
         "--conf", "spark.sql.shuffle.partitions=2", entry.__file__,
         "--data-dir", str(spark.data_dir), "--engine", "spark", "batch", "--json"],
        capture_output=True, text=True, env=ENV, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"balanced": true' in done.stdout
    for spec in (SILVER_ORDERS, SILVER_ORDER_LINES):
        assert [r["event_id"] for r in table_rows(spark, spec)] == [r["event_id"] for r in table_rows(duck, spec)]
