"""What the Delta log alone can say about a table, and commits of files written elsewhere.

Everything here reads the log (versions, history, per-file statistics) or writes it, never the
data files, except ``head``, which reads the first rows of a version. With these, no module
outside ``lake/`` needs a delta-rs handle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, Schema, Transaction
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from salesflow.errors import LakeWriteError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import TableSpec


@dataclass(frozen=True)
class TableInfo:
    """One table as the log describes it."""

    version: int
    rows: int
    files: int
    last_update: datetime | None


@dataclass(frozen=True)
class Head:
    version: int
    rows: int
    """All rows of the version, not only the ones returned."""
    table: pa.Table


def commits(lake: Lake, spec: TableSpec) -> list[dict[str, Any]]:
    """The table's commits, newest first, each with its operation and custom metadata (empty when
    the table does not exist)."""
    table = lake.table(spec)
    if table is None:
        return []
    with lake._storage():
        return [dict(commit) for commit in table.history()]


def batch_rows(lake: Lake, spec: TableSpec, batch_id: int) -> int | None:
    """Rows of ``spec`` with ``batch_id``, from the log's per-file record counts and batch_id
    bounds (no data scan); None when the log lacks them or a file holds that batch beside others
    (one compacted across batches)."""
    files = lake.file_stats(spec, "batch_id")
    if files is None or files.num_rows == 0:
        return None if files is None else 0
    if "num_records" not in files.column_names or files["num_records"].null_count:
        return None
    low, high = files["min.batch_id"], files["max.batch_id"]
    alone = pc.and_(pc.equal(low, batch_id), pc.equal(high, batch_id))
    apart = pc.or_(pc.less(high, batch_id), pc.greater(low, batch_id))
    if not pc.all(pc.or_(alone, apart)).as_py():
        return None
    return int(pc.sum(files.filter(alone)["num_records"]).as_py() or 0)


def column_max(lake: Lake, spec: TableSpec, column: str) -> Any | None:
    """The highest ``column`` over the table, from the log's per-file statistics (no data scan);
    None for a missing or empty table."""
    table = lake.table(spec)
    if table is None:
        return None
    with lake.storage():
        stats = pa.table(table.get_add_actions(flatten=True))
    return None if stats.num_rows == 0 else pc.max(stats[f"max.{column}"]).as_py()


def describe(lake: Lake, spec: TableSpec) -> TableInfo | None:
    table = lake.table(spec)
    if table is None:
        return None
    with lake._storage():
        rows = table.to_pyarrow_dataset().count_rows()
        return TableInfo(table.version(), rows, len(table.file_uris()), _commit_time(lake, spec, table.version()))


def _commit_time(lake: Lake, spec: TableSpec, version: int) -> datetime | None:
    """When ``version`` was committed. Read from the newest log: delta-rs mislabels the history
    of a table loaded at an older version."""
    latest = dataclasses.replace(lake, as_of=None, _handles={}).table(spec)
    with lake.storage():
        history = [] if latest is None else latest.history()
    for commit in history:
        if commit.get("version") == version:
            return datetime.fromtimestamp(commit["timestamp"] / 1000, UTC)
    return None


def head(lake: Lake, spec: TableSpec, limit: int | None, version: int | None = None) -> Head | None:
    """The first ``limit`` rows (all with None) of the table at ``version`` (default: the lake's
    own, which may be pinned by time travel)."""
    table = lake.table(spec, version=version)
    if table is None:
        return None
    with lake._storage():
        data = table.to_pyarrow_dataset()
        rows = data.head(limit) if limit else data.to_table()
        return Head(table.version(), data.count_rows(), rows)


def commit_files(lake: Lake, spec: TableSpec, schema: pa.Schema, adds: Sequence[AddAction], *,
                 removes: Sequence[RemoveAction] = (), app_id: str, version: int,
                 mode: Literal["append", "overwrite"] = "append",
                 metadata: Mapping[str, str] | None = None) -> bool:
    """Commit data files another process wrote under the table's path (Spark's executors) as one
    Delta commit with the application transaction ``(app_id, version)``: the driver sends only
    these actions. ``removes`` replace files finer than a partition. False when already committed."""
    lake.refuse_if_pinned(spec)
    props = CommitProperties(custom_metadata=dict(metadata or {}), app_transactions=[Transaction(app_id, version)])
    table = lake.table(spec)
    if lake.marker(table, app_id) >= version:
        return False
    try:
        with lake._storage():
            if table is None:
                create_table_with_add_actions(lake.uri(spec), Schema.from_arrow(schema), list(adds), mode="append",
                                              partition_by=list(spec.partition_by) or None,
                                              storage_options=lake._options, commit_properties=props)
            else:
                table.create_write_transaction([*removes, *adds], mode=mode, schema=schema,
                                               partition_by=list(spec.partition_by) or None,
                                               commit_properties=props)
    except CommitFailedError as exc:
        raise LakeWriteError(f"commit to {spec.qualified} failed: {exc}") from exc
    return True
