from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from salesflow.errors import LakeSchemaError, TerminalError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import TableSpec

SPEC = TableSpec("test", "t", ("day",))


def rows(*values: int) -> pa.Table:
    return pa.table({"day": pa.array(["d1"] * len(values)), "v": pa.array(values, pa.int64())})


def test_append_is_once_per_app_version(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.txn_version(SPEC, "app") == -1
    assert lake.append(SPEC, rows(1, 2), app_id="app", version=0)
    assert not lake.append(SPEC, rows(1, 2), app_id="app", version=0)  # a replay
    assert lake.append(SPEC, rows(3), app_id="app", version=1)
    assert lake.read(SPEC).num_rows == 3 and lake.txn_version(SPEC, "app") == 1
    assert lake.append(SPEC, rows(9), app_id="other", version=0)  # apps are independent


def test_replace_where_swaps_only_the_partition(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.append(SPEC, pa.table({"day": ["d1", "d2"], "v": pa.array([1, 2], pa.int64())}), app_id="a", version=0)
    lake.replace_where(SPEC, rows(7, 8), "day = 'd1'", app_id="a", version=1)
    lake.replace_where(SPEC, rows(7, 8), "day = 'd1'", app_id="a", version=1)  # replay: skipped
    assert sorted(lake.read(SPEC).to_pylist(), key=lambda r: r["v"]) == [
        {"day": "d2", "v": 2}, {"day": "d1", "v": 7}, {"day": "d1", "v": 8}]


def test_a_snapshot_is_read_again_only_when_another_writer_changes_the_table(tmp_path: Path) -> None:
    lake, writer = Lake(str(tmp_path)), Lake(str(tmp_path))
    assert lake.snapshot(SPEC) is None
    writer.overwrite(SPEC, rows(1, 2), metadata={})
    first = lake.snapshot(SPEC)
    assert first is not None and sorted(first["v"].to_pylist()) == [1, 2]
    assert lake.snapshot(SPEC) is first  # unchanged: kept
    writer.overwrite(SPEC, rows(5), metadata={})  # another process replaces the reference data
    assert lake.snapshot(SPEC)["v"].to_pylist() == [5]  # type: ignore[index]


def test_schema_mismatch_is_terminal(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.append(SPEC, rows(1), app_id="a", version=0)
    with pytest.raises(LakeSchemaError) as info:
        lake.append(SPEC, pa.table({"day": ["d1"], "v": ["not a number"]}), app_id="a", version=1)
    assert isinstance(info.value, TerminalError) and "test.t" in str(info.value)
    assert lake.read(SPEC).num_rows == 1


def test_a_column_a_newer_version_adds_grows_the_table_and_nothing_else_does(tmp_path: Path) -> None:
    """A lake an older salesflow wrote takes a batch with one more column (an optional contract field
    such as silver.orders.quarantined_lines): old rows read it as null. A batch that lacks one of
    the table's columns is still refused."""
    lake = Lake(str(tmp_path))
    lake.append(SPEC, rows(1), app_id="a", version=0)
    wider = pa.table({"day": ["d1"], "v": pa.array([2], pa.int64()), "n": pa.array([3], pa.int32())})
    assert lake.append(SPEC, wider, app_id="a", version=1)
    lake.replace_where(SPEC, wider, "day = 'd1'", app_id="a", version=2)
    assert lake.read(SPEC).to_pylist() == [{"day": "d1", "v": 2, "n": 3}]
    lake.append(SPEC, rows(1).append_column("n", pa.nulls(1, pa.int32())), app_id="a", version=3)
    assert sorted(lake.read(SPEC).to_pylist(), key=lambda r: r["v"]) == [
        {"day": "d1", "v": 1, "n": None}, {"day": "d1", "v": 2, "n": 3}]
    with pytest.raises(LakeSchemaError):
        lake.append(SPEC, pa.table({"day": ["d1"], "w": pa.array([5], pa.int64())}), app_id="a", version=4)


def test_side_by_side_writes_every_table_then_raises_the_failure(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    good, bad, other = SPEC, TableSpec("test", "bad"), TableSpec("test", "other", unique=("v",))
    lake.append(bad, rows(1), app_id="a", version=0)
    with pytest.raises(LakeSchemaError):
        lake.side_by_side({
            good: lambda: lake.append(good, rows(1, 2), app_id="a", version=0),
            bad: lambda: lake.append(bad, pa.table({"day": ["d1"], "v": ["x"]}), app_id="a", version=1),
            other: lambda: lake.append(other, rows(5), app_id="a", version=0),
        })
    # the failing table is untouched; the others committed and are skipped on the redo
    assert lake.txn_version(good, "a") == 0 and lake.txn_version(other, "a") == 0 and lake.txn_version(bad, "a") == 0
    assert lake.read(good).num_rows == 2 and lake.read(other).num_rows == 1 and lake.read(bad).num_rows == 1
    assert lake.side_by_side({good: lambda: lake.append(good, rows(1, 2), app_id="a", version=0)}) == {good: False}


def test_unique_columns_are_written_without_a_dictionary_or_statistics(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    spec = TableSpec("test", "u", unique=("v",))
    lake = Lake(str(tmp_path))
    lake.append(spec, rows(*range(1000)), app_id="a", version=0)
    (path,) = [p for p in (tmp_path / "test" / "u").rglob("*.parquet")]
    group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
    assert "RLE_DICTIONARY" in encodings["day"] and "RLE_DICTIONARY" not in encodings["v"]
    assert group.column(0).compression == "SNAPPY"
    stats = {group.column(i).path_in_schema: group.column(i).statistics for i in range(group.num_columns)}
    assert stats["day"] is not None and stats["day"].has_min_max
    assert stats["v"] is None or not stats["v"].has_min_max


def test_count_rows_reads_the_log_and_scans_only_a_file_compacted_across_the_bound(tmp_path: Path) -> None:
    """Reconciliation counts come from the Delta log's record counts; a file that holds batches on
    both sides of the bound (compaction merged them) is counted by scanning it."""
    from salesflow.lake.maintenance import maintain

    spec = TableSpec("test", "batches")
    lake = Lake(str(tmp_path))
    for batch, n in enumerate((3, 5, 7)):
        lake.append(spec, pa.table({"batch_id": pa.array([batch] * n, pa.int64())}), app_id="app", version=batch)
    assert [lake.count_rows(spec, b) for b in (None, -1, 0, 1, 2)] == [15, 0, 3, 8, 15]
    maintain(lake, 168, tables=(spec,))
    assert len(lake.table(spec).file_uris()) == 1  # type: ignore[union-attr]
    assert [lake.count_rows(spec, b) for b in (None, -1, 0, 1, 2)] == [15, 0, 3, 8, 15]
    assert lake.count_rows(TableSpec("test", "missing")) == 0
