"""A Delta table as data files, for an engine that reads and writes the Parquet files itself
(Spark's executors): the files of a pinned version that a predicate may match, and one commit of
files written elsewhere (adds, and removes of a pinned version's files) with the application
transaction. delta-rs stays here, with the rest of the lake.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Schema, Transaction
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.schema import Field
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from salesflow.errors import LakeSchemaError, LakeWriteError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import TableSpec

UNREADABLE_FEATURES = frozenset({"deletionVectors", "columnMapping"})
"""Delta features under which a table's rows are not what its Parquet files hold."""


@dataclass(frozen=True)
class NewFile:
    """A Parquet file written under a table's path, as its add action describes it."""

    path: str
    size: int
    partition_values: Mapping[str, str | None]
    stats: str
    modification_time: int


@dataclass(frozen=True)
class TableFiles:
    """A pinned version of a table: its schema and the files a predicate may match (relative
    paths, with size and partition values as the log has them)."""

    version: int
    schema: pa.Schema
    files: list[dict[str, object]]

    @property
    def paths(self) -> list[str]:
        return [str(f["path"]) for f in self.files]


def table_files(lake: Lake, spec: TableSpec, *, predicate: str | None = None,
                version: int | None = None) -> TableFiles | None:
    """The files of ``spec`` at ``version`` (default: the latest) that may hold rows matching
    ``predicate`` (partition values and file statistics prune the rest); None for a missing table.
    A table whose files do not hold its rows as they are (deletion vectors, column mapping) is refused."""
    table = lake.table(spec, version=version)
    if table is None:
        return None
    _refuse_unreadable(table, spec)
    with lake.storage():
        actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
        if predicate is not None:
            wanted = set(table.to_pyarrow_dataset(file_pruning_predicate=predicate).files)
            actions = [a for a in actions if a["path"] in wanted]
    files = [{"path": a["path"], "size": a["size_bytes"],
              "partition_values": {name: a.get(f"partition.{name}") for name in spec.partition_by}} for a in actions]
    return TableFiles(table.version(), pa.schema(table.schema().to_arrow()), files)  # type: ignore[arg-type]


def table_schema(lake: Lake, spec: TableSpec) -> pa.Schema | None:
    table = lake.table(spec)
    return None if table is None else pa.schema(table.schema().to_arrow())  # type: ignore[arg-type]


def _refuse_unreadable(table: DeltaTable, spec: TableSpec) -> None:
    found = set(table.protocol().reader_features or ()) & UNREADABLE_FEATURES
    if table.metadata().configuration.get("delta.columnMapping.mode", "none") not in ("none", None):
        found.add("columnMapping")
    if found:
        raise LakeSchemaError(
            f"{spec.qualified} uses {', '.join(sorted(found))}: the Spark engine reads a table's Parquet "
            "files and cannot apply that; rewrite the table without it (or use spark.delta = native on a "
            "cluster with the delta-spark jars)")


def add_columns(lake: Lake, spec: TableSpec, fields: list[pa.Field]) -> None:
    """Columns a newer salesflow adds to a table an older one wrote (an optional contract field), in
    a commit of their own before the data: the files already there read them as null. (A write
    transaction with a wider schema would not widen the table: the new column would go unseen.)"""
    lake.refuse_if_pinned(spec)
    table = lake.table(spec)
    if table is None:
        return
    with lake.storage():
        table.alter.add_columns([Field.from_arrow(f) for f in fields])


def committed(lake: Lake, spec: TableSpec, app_id: str, batch_id: int) -> bool:
    return lake.txn_version(spec, app_id) >= batch_id


def commit_files(lake: Lake, spec: TableSpec, schema: pa.Schema, adds: list[NewFile], *,
                 removes: TableFiles | None = None, app_id: str | None = None, batch_id: int = 0,
                 metadata: Mapping[str, str] | None = None) -> None:
    """One Delta commit adding ``adds`` and removing ``removes``' files, carrying
    ``Transaction(app_id, batch_id)``. It is made on the version the removed files were listed at,
    so a writer that committed in between is checked for conflicts, not overwritten."""
    props = CommitProperties(custom_metadata=dict(metadata or {}),
                             app_transactions=None if app_id is None else [Transaction(app_id, batch_id)])
    actions: list[AddAction | RemoveAction] = [
        AddAction(f.path, f.size, dict(f.partition_values), f.modification_time, True, f.stats) for f in adds]
    now = int(time.time() * 1000)
    for file in removes.files if removes is not None else []:
        values = file["partition_values"]
        assert isinstance(values, dict)  # noqa: S101 - type narrowing
        actions.append(RemoveAction(str(file["path"]), True, now, int(str(file["size"])),
                                    {k: partition_text(v) for k, v in values.items()}))
    lake.refuse_if_pinned(spec)
    try:
        with lake.storage():
            handle = lake.table(spec) if removes is None else lake.table(spec, version=removes.version)
            if handle is None:
                create_table_with_add_actions(lake.uri(spec), Schema.from_arrow(schema), [*actions],  # type: ignore[list-item]
                                              mode="append", partition_by=list(spec.partition_by) or None,
                                              storage_options=dict(lake.storage_options or {}) or None,
                                              commit_properties=props)
            else:
                handle.create_write_transaction(actions, "append", handle.schema(),
                                                partition_by=list(spec.partition_by) or None, commit_properties=props)
    except CommitFailedError as exc:  # a concurrent writer won: the next attempt lists its version
        raise LakeWriteError(f"commit to {spec.qualified} failed: {exc}") from exc
    except DeltaError as exc:
        raise LakeWriteError(f"write to {spec.qualified} failed: {exc}") from exc


def partition_text(value: Any) -> str | None:
    """A partition value as the Delta log and the directory name spell it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
