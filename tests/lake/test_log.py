"""The Delta log as lake/log.py reads and writes it: history, statistics, heads, and commits of
files another process wrote (the Spark path: executors write Parquet, the driver commits)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake.transaction import AddAction, RemoveAction

from salesflow.errors import LakeSchemaError
from salesflow.lake.delta import Lake
from salesflow.lake.log import batch_rows, column_max, commit_files, commits, describe, head
from salesflow.lake.tables import TableSpec

SPEC = TableSpec("test", "t", ("day",))
SCHEMA = pa.schema([("v", pa.int64()), ("day", pa.string())])


def _written_elsewhere(lake: Lake, day: str, values: list[int]) -> AddAction:
    """A Parquet file under the table's path, as an executor writes it, and its add action."""
    relative = f"day={day}/part-{uuid.uuid4().hex}.parquet"
    path = Path(lake.uri(SPEC)) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"v": pa.array(values, pa.int64())}), path)
    stats = {"numRecords": len(values), "minValues": {"v": min(values)}, "maxValues": {"v": max(values)},
             "nullCount": {"v": 0}}
    return AddAction(relative, path.stat().st_size, {"day": day}, int(time.time() * 1000), True, json.dumps(stats))


def test_files_written_elsewhere_commit_once_with_their_transaction(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    first = [_written_elsewhere(lake, "d1", [1, 2]), _written_elsewhere(lake, "d2", [3])]
    assert commit_files(lake, SPEC, SCHEMA, first, app_id="spark", version=0)  # creates the table
    assert not commit_files(lake, SPEC, SCHEMA, first, app_id="spark", version=0)  # a rerun: nothing twice
    assert commit_files(lake, SPEC, SCHEMA, [_written_elsewhere(lake, "d1", [4])], app_id="spark", version=1)
    assert sorted(lake.read(SPEC)["v"].to_pylist()) == [1, 2, 3, 4]
    assert lake.txn_version(SPEC, "spark") == 1
    assert column_max(lake, SPEC, "v") == 4  # from the statistics the add actions carried


def test_removes_replace_a_file_finer_than_a_partition(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    old, kept = _written_elsewhere(lake, "d1", [1]), _written_elsewhere(lake, "d1", [2])
    commit_files(lake, SPEC, SCHEMA, [old, kept], app_id="spark", version=0)
    gone = RemoveAction(old.path, True, int(time.time() * 1000), old.size, dict(old.partition_values))
    new = _written_elsewhere(lake, "d1", [10])
    assert commit_files(lake, SPEC, SCHEMA, [new], removes=[gone], app_id="spark", version=1)
    assert sorted(lake.read(SPEC)["v"].to_pylist()) == [2, 10]
    assert lake.read(SPEC, prune="day = 'd1'").num_rows == 2


def test_history_head_and_describe_come_from_the_lake(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert commits(lake, SPEC) == [] and describe(lake, SPEC) is None and head(lake, SPEC, 5) is None
    for version in range(3):
        lake.append(SPEC, pa.table({"v": pa.array([version] * 4, pa.int64()), "day": ["d1"] * 4}),
                    app_id="a", version=version, metadata={"salesflow.batch_id": str(version)})
    history = commits(lake, SPEC)
    assert [c["version"] for c in history] == [2, 1, 0] and history[0]["salesflow.batch_id"] == "2"
    info = describe(lake, SPEC)
    assert info is not None and (info.version, info.rows, info.files) == (2, 12, 3) and info.last_update is not None
    at_one = head(lake, SPEC, 3, version=1)
    assert at_one is not None and at_one.version == 1 and at_one.rows == 8 and at_one.table.num_rows == 3
    assert pc.max(at_one.table["v"]).as_py() <= 1


def test_a_pinned_lake_refuses_file_commits(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    lake = Lake(str(tmp_path))
    commit_files(lake, SPEC, SCHEMA, [_written_elsewhere(lake, "d1", [1])], app_id="spark", version=0)
    pinned = Lake(str(tmp_path), as_of=datetime.now(UTC))
    with pytest.raises(LakeSchemaError, match="read-only"):
        commit_files(pinned, SPEC, SCHEMA, [_written_elsewhere(lake, "d1", [2])], app_id="spark", version=1)


def test_a_batch_is_counted_from_the_log_until_a_file_holds_it_beside_others(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    spec = TableSpec("test", "batches", ())
    assert batch_rows(lake, spec, 0) is None  # no table
    for batch, rows in enumerate([3, 0, 5]):
        lake.append(spec, pa.table({"batch_id": pa.array([batch] * rows, pa.int64())}), app_id="a", version=batch)
    assert [batch_rows(lake, spec, b) for b in range(4)] == [3, 0, 5, 0]
    lake.append_log(spec, pa.table({"batch_id": pa.array([2, 3, 3], pa.int64())}))  # one file, two batches
    assert batch_rows(lake, spec, 0) == 3  # its files still hold batch 0 alone
    assert batch_rows(lake, spec, 2) is None and batch_rows(lake, spec, 3) is None  # counted by the caller
