"""Parquet files of a Delta table, written where the rows are (a Spark executor's Python worker)
and described as Delta add actions: the file's relative path, size, partition values and the
statistics readers prune on. Nothing here needs the driver; the driver only commits the actions.

The file names carry the writer and batch (``<prefix>-<uuid>.parquet``) so a file left by a failed
attempt is recognisable; it is never referenced by the log and ``maintain``'s vacuum removes it
after the retention.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from salesflow.lake.files import partition_text

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
STATS_TRUNCATE_CHARS = 64  # as the lake's own writer (lake.delta): longer strings get no min/max
ACTION_FIELDS = "path string, size long, partition_values string, stats string, modification_time long"
"""The rows a write task returns per file, in Spark's DDL: all that reaches the driver."""


@dataclass(frozen=True)
class FileTarget:
    """Where and how a task writes: the table's location (a directory or an object-store URI,
    with the lake's storage options), its schema (as Arrow) and partitioning, the file-name
    prefix and the Parquet settings of its unique columns."""

    root: str
    schema: pa.Schema
    partition_by: tuple[str, ...]
    prefix: str
    unique: tuple[str, ...] = ()
    max_rows_per_file: int = 4_000_000
    storage: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """The lake's storage options (credentials included): they travel in the task, as Spark's own
    s3a settings would, and are never logged."""

    @property
    def data_schema(self) -> pa.Schema:
        return pa.schema([f for f in self.schema if f.name not in self.partition_by])


@dataclass
class _Stats:
    """Running statistics of one file's columns, in Delta's JSON form."""

    rows: int = 0
    low: dict[str, Any] = field(default_factory=dict)
    high: dict[str, Any] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)
    unbounded: set[str] = field(default_factory=set)
    """Columns with a value the statistics cannot hold (a long string, NaN): no min/max."""

    def add(self, batch: pa.RecordBatch, unique: tuple[str, ...]) -> None:
        self.rows += batch.num_rows
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if not _has_bounds(column.type):
                continue
            self.nulls[name] = self.nulls.get(name, 0) + column.null_count
            if name in unique or name in self.unbounded or column.null_count == len(column):
                continue
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if isinstance(low, str) and max(len(low), len(high)) > STATS_TRUNCATE_CHARS or low != low:
                self.unbounded.add(name)  # a long string or NaN: no min/max is safe, a wrong one is not
                self.low.pop(name, None)
                self.high.pop(name, None)
                continue
            self.low[name] = low if name not in self.low else min(self.low[name], low)
            self.high[name] = high if name not in self.high else max(self.high[name], high)

    def json(self) -> str:
        return json.dumps({"numRecords": self.rows,
                           "minValues": {k: _stat(v, up=False) for k, v in self.low.items()},
                           "maxValues": {k: _stat(v, up=True) for k, v in self.high.items()},
                           "nullCount": self.nulls}, separators=(",", ":"), ensure_ascii=False)


def _has_bounds(kind: pa.DataType) -> bool:
    """Types whose min/max and null count Delta keeps flat (no nested types, booleans or
    decimals, whose JSON numbers could round; timezone-less timestamps have their own format)."""
    return (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_string(kind)
            or pa.types.is_large_string(kind) or pa.types.is_date(kind)
            or (pa.types.is_timestamp(kind) and kind.tz is not None))


def _stat(value: Any, *, up: bool) -> Any:
    """A value as Delta's statistics write it; timestamps in milliseconds, the max rounded up so
    a file is never pruned for a value it holds."""
    if isinstance(value, datetime):
        millis = value.replace(microsecond=value.microsecond // 1000 * 1000)
        if up and millis != value:
            millis += timedelta(milliseconds=1)
        return millis.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def partition_dir(partition_by: tuple[str, ...], values: dict[str, str | None]) -> str:
    parts = []
    for name in partition_by:
        text = values[name]
        if text is not None and quote(text, safe="-_.") != text:
            # The log holds the path percent-encoded and the directory decoded; only values that
            # need no encoding keep the two the same (dates and numbers, the lake's partitions).
            raise ValueError(f"partition value {text!r} of {name} needs escaping in a path")
        parts.append(f"{name}={NULL_PARTITION if text is None else text}")
    return "/".join(parts)


@dataclass
class _OpenFile:
    relative: str
    writer: pq.ParquetWriter
    values: dict[str, str | None]
    stats: _Stats = field(default_factory=_Stats)


def write_files(target: FileTarget, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """One task's rows to Parquet files under ``target.root`` (one open file per partition value,
    rolled at ``max_rows_per_file``); yields one batch of add-action rows at the end."""
    open_files: dict[tuple[str | None, ...], _OpenFile] = {}
    done: list[dict[str, Any]] = []
    for batch in batches:
        conformed = conform(batch, target.schema)
        for key, part in _by_partition(conformed, target.partition_by):
            current = open_files.get(key)
            if current is None:
                current = open_files[key] = _open(target, dict(zip(target.partition_by, key, strict=True)))
            data = part.select(target.data_schema.names)
            current.writer.write_batch(data)
            current.stats.add(data, target.unique)
            if current.stats.rows >= target.max_rows_per_file:
                done.append(_close(target, open_files.pop(key)))
    done.extend(_close(target, current) for current in open_files.values())
    yield pa.RecordBatch.from_pylist(done, schema=_ACTION_SCHEMA)


_ACTION_SCHEMA = pa.schema([("path", pa.string()), ("size", pa.int64()), ("partition_values", pa.string()),
                            ("stats", pa.string()), ("modification_time", pa.int64())])


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in the table's columns and types: a column the rows lack is NULL; a value that
    does not fit its column's type fails the task (the write is refused, never truncated)."""
    columns = []
    for target in schema:
        index = batch.schema.get_field_index(target.name)
        column = pa.nulls(batch.num_rows, target.type) if index < 0 else batch.column(index)
        columns.append(column if column.type.equals(target.type) else column.cast(target.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _by_partition(batch: pa.RecordBatch,
                  partition_by: tuple[str, ...]) -> Iterator[tuple[tuple[str | None, ...], pa.RecordBatch]]:
    if not partition_by:
        yield (), batch
        return
    keys = pa.table([batch.column(name) for name in partition_by], names=list(partition_by))
    for group in keys.group_by(list(partition_by), use_threads=False).aggregate([]).to_pylist():
        mask = None
        for name in partition_by:
            test = pc.is_null(batch.column(name)) if group[name] is None else pc.equal(batch.column(name), group[name])
            mask = test if mask is None else pc.and_(mask, test)
        yield tuple(partition_text(group[name]) for name in partition_by), batch.filter(mask)


def filesystem(root: str, storage: tuple[tuple[str, str], ...] = ()) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem for a table location and the location's path within it: the local
    disk, or S3 with the lake's delta-rs storage options (endpoint, region, credentials)."""
    if "://" not in root or root.startswith("file://"):
        return pafs.LocalFileSystem(), root.removeprefix("file://")
    scheme, rest = root.split("://", 1)
    if scheme.lower() not in ("s3", "s3a"):
        return pafs.FileSystem.from_uri(root)  # type: ignore[no-any-return]
    options = {key.upper(): value for key, value in storage}
    settings: dict[str, Any] = {"access_key": options.get("AWS_ACCESS_KEY_ID"),
                                "secret_key": options.get("AWS_SECRET_ACCESS_KEY"),
                                "session_token": options.get("AWS_SESSION_TOKEN"),
                                "region": options.get("AWS_REGION")}
    endpoint = options.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urlparse(endpoint)
        settings.update(endpoint_override=parsed.netloc or endpoint, scheme=parsed.scheme or "https")
    if options.get("AWS_VIRTUAL_HOSTED_STYLE_REQUEST") == "true":
        settings["force_virtual_addressing"] = True
    return pafs.S3FileSystem(**{k: v for k, v in settings.items() if v is not None}), rest


def _open(target: FileTarget, values: dict[str, str | None]) -> _OpenFile:
    folder = partition_dir(target.partition_by, values)
    relative = f"{folder}/" if folder else ""
    relative += f"{target.prefix}-{uuid.uuid4()}.parquet"
    fs, root = filesystem(target.root, target.storage)
    path = f"{root.rstrip('/')}/{relative}"
    if isinstance(fs, pafs.LocalFileSystem):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    unique = [name for name in target.unique if name in target.data_schema.names]
    writer = pq.ParquetWriter(
        path, target.data_schema, filesystem=fs, compression="snappy",
        use_dictionary=[n for n in target.data_schema.names if n not in unique],
        write_statistics=[n for n in target.data_schema.names if n not in unique],
        coerce_timestamps="us", allow_truncated_timestamps=False)
    return _OpenFile(relative, writer, values)


def _close(target: FileTarget, current: _OpenFile) -> dict[str, Any]:
    current.writer.close()
    fs, root = filesystem(target.root, target.storage)
    return {"path": current.relative, "size": fs.get_file_info(f"{root.rstrip('/')}/{current.relative}").size,
            "partition_values": json.dumps(current.values), "stats": current.stats.json(),
            "modification_time": int(time.time() * 1000)}


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """Arrow types Spark's converter and Delta's schema read: view and large variants become the
    plain ones, timestamps with a zone microseconds in UTC."""
    return pa.schema([field.with_type(plain_type(field.type)) for field in schema])


def plain_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_binary_view(kind) or pa.types.is_large_binary(kind):
        return pa.binary()
    if pa.types.is_dictionary(kind):
        return plain_type(kind.value_type)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(plain_type(kind.value_type))
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        return pa.timestamp("us", "UTC")
    return kind


def read_files(root: str, storage: tuple[tuple[str, str], ...], schema: pa.Schema, partition_by: tuple[str, ...],
               listed: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A task's share of a table's files (rows of ``path`` and ``partition_values`` as JSON) read
    with pyarrow, partition columns added from the log's values, in the table's schema: the read
    path where Spark has no filesystem for the lake (an object store without hadoop-aws)."""
    fs, base = filesystem(root, storage)
    data = [f.name for f in schema if f.name not in partition_by]
    for batch in listed:
        for path, values in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            table = pq.read_table(f"{base.rstrip('/')}/{path}", filesystem=fs, columns=data)
            known = json.loads(values)
            for name in partition_by:
                value = known.get(name)
                column = pa.nulls(table.num_rows, pa.string()) if value is None else pa.repeat(value, table.num_rows)
                table = table.append_column(name, column.cast(schema.field(name).type))
            for chunk in table.to_batches():
                yield conform(chunk, schema)
