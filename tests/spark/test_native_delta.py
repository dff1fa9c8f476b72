"""``spark.delta: native`` (delta-spark's ``format("delta")``) for clusters that have its jars.

This machine cannot download delta-spark, so what runs here is what a user without the jars
meets (one line naming the package) and the options the native writer hands delta-spark, recorded
by a stand-in writer: that fake stands for the jar that cannot be had, not for a fault."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from salesflow.config import SparkConfig
from salesflow.engine.base import Txn, WriteScope
from salesflow.engine.spark import SparkEngine
from salesflow.engine.spark_tables import read_native, write_native
from salesflow.errors import ConfigError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import TableSpec

SPEC = TableSpec("silver", "lines", ("event_date",), unique=("event_id",))


def test_native_without_the_jars_is_one_clear_line(spark_session: object) -> None:
    with pytest.raises(ConfigError, match=r"needs the delta-spark jars .*spark\.packages.*spark\.delta: commit"):
        SparkEngine(SparkConfig(master="local[2]", delta="native", keep_session=True),
                    session=spark_session)  # type: ignore[arg-type]


def test_the_cli_says_so_and_exits_2(tmp_path: Path) -> None:
    env = {"SALESFLOW__SPARK__DELTA": "native", "SALESFLOW__SPARK__MASTER": "local[1]",
           "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(tmp_path), "--engine", "spark",
                           "batch"], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, **env})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("salesflow: spark.delta: native needs the delta-spark jars")


class _Writer:
    """Records the DataFrameWriter chain the native path builds."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> _Writer:
            self.calls.append((name, args))
            return self
        return call


class _Frame:
    def __init__(self) -> None:
        self.write = _Writer()


def _translate(sql: str) -> str:
    return sql.replace('"', "`")


def test_an_append_carries_the_application_transaction(tmp_path: Path) -> None:
    frame = _Frame()
    assert write_native(frame, Lake(str(tmp_path)), SPEC, WriteScope.append(), Txn("salesflow.silver", 7),  # type: ignore[arg-type]
                        {"salesflow.batch_id": "7"}, _translate)
    calls = dict(frame.write.calls)
    assert calls["format"] == ("delta",)
    assert ("option", ("txnAppId", "salesflow.silver")) in frame.write.calls
    assert ("option", ("txnVersion", 7)) in frame.write.calls
    assert ("option", ("userMetadata", '{"salesflow.batch_id": "7"}')) in frame.write.calls
    assert calls["partitionBy"] == ("event_date",)
    assert calls["mode"] == ("append",)
    assert calls["save"] == (str(tmp_path / "silver" / "lines"),)


def test_a_replace_is_replace_where_in_sparks_spelling(tmp_path: Path) -> None:
    frame = _Frame()
    scope = WriteScope.replace("\"batch_id\" = 3 AND event_date IN ('2026-01-01')")
    write_native(frame, Lake(str(tmp_path)), SPEC, scope, None, None, _translate)  # type: ignore[arg-type]
    assert ("mode", ("overwrite",)) in frame.write.calls
    assert ("option", ("replaceWhere", "`batch_id` = 3 AND event_date IN ('2026-01-01')")) in frame.write.calls
    assert not any(args and args[0] == "txnAppId" for _, args in frame.write.calls)


def test_a_table_that_does_not_exist_reads_as_none(spark_session: object, tmp_path: Path) -> None:
    assert read_native(spark_session, Lake(str(tmp_path)), SPEC, None) is None  # type: ignore[arg-type]
