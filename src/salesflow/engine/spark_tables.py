"""Spark's side of the table-I/O contract: the driver pins a Delta snapshot and lists its files
(``lake.files``), executors read those Parquet files; executors write new Parquet files under the
table path and hand back one add-action row per file, and the driver commits them as one Delta
transaction carrying the application transaction. Table rows never reach the driver.

A replace removes every file its predicate may touch (partition values and statistics prune the
rest) and adds, beside the new rows, the rows of those files the predicate does not match: a
copy-on-write replace, exact for scopes finer than a partition.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

import pyarrow as pa

from salesflow.engine.base import Txn, WriteScope, predicate_columns
from salesflow.engine.parquet_files import ACTION_FIELDS, FileTarget, plain_schema, read_files, write_files
from salesflow.errors import ConfigError, LakeSchemaError, LakeWriteError
from salesflow.lake.delta import Lake
from salesflow.lake.files import (
    NewFile,
    TableFiles,
    add_columns,
    commit_files,
    committed,
    partition_text,
    table_files,
    table_schema,
)
from salesflow.lake.tables import TableSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def table_root(lake: Lake, spec: TableSpec) -> str:
    """The table's location as executors reach it: an absolute directory, or the object-store URI."""
    uri = lake.uri(spec).removeprefix("file://")
    return uri if "://" in uri else os.path.abspath(uri)


def storage(lake: Lake) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((lake.storage_options or {}).items()))


def read_frame(spark: SparkSession, lake: Lake, spec: TableSpec, files: TableFiles) -> DataFrame:
    """The rows of the listed files, read by executors (not filtered here). On a local lake Spark's
    own Parquet reader reads them, partition columns from the directories, typed by the table's
    schema; on an object store the executors' Python workers read them with pyarrow (Spark would
    need hadoop-aws on the cluster for s3a), partition columns from the log's values."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = from_arrow_schema(files.schema)
    if not files.files:
        return spark.createDataFrame([], schema)
    root = table_root(lake, spec)
    if "://" not in root:
        return spark.read.schema(schema).option("basePath", f"file://{root}").parquet(
            *(f"file://{os.path.join(root, path)}" for path in files.paths))
    listed = spark.createDataFrame(  # the file list, not the rows: one row per file
        [(path, json.dumps({k: partition_text(v) for k, v in dict(f["partition_values"]).items()}))  # type: ignore[call-overload]
         for path, f in zip(files.paths, files.files, strict=True)], "path string, partition_values string")
    listed = listed.repartition(max(1, min(len(files.files), spark.sparkContext.defaultParallelism * 2)))
    return listed.mapInArrow(partial(read_files, root, storage(lake), files.schema, spec.partition_by), schema)


def write_frame(frame: DataFrame, lake: Lake, spec: TableSpec, scope: WriteScope, txn: Txn | None,
                metadata: Mapping[str, str] | None, translate: Callable[[str], str]) -> bool:
    """``frame`` to ``spec`` as one commit; False when ``txn`` was committed already."""
    if txn is not None and committed(lake, spec, txn.app_id, txn.batch_id):
        return False
    current = table_files(lake, spec, predicate=scope.predicate) if scope.predicate is not None else None
    schema = current.schema if current is not None else table_schema(lake, spec) or _frame_schema(frame)
    extra = [name for name in frame.columns if name not in schema.names]
    if extra and set(schema.names) <= set(frame.columns) and table_schema(lake, spec) is not None:
        add_columns(lake, spec, [_frame_schema(frame).field(name) for name in extra])  # as the DuckDB path's merge
        current = table_files(lake, spec, predicate=scope.predicate) if scope.predicate is not None else None
        schema = table_schema(lake, spec) or schema
    elif extra:
        raise LakeSchemaError(f"{spec.qualified} rejected the batch: columns {', '.join(extra)} are not in the table")
    rows = frame
    if current is not None and current.files and not predicate_columns(scope.predicate) <= set(spec.partition_by):
        # Rows of the replaced files outside the predicate are written again beside the new ones
        read_frame(frame.sparkSession, lake, spec, current).createOrReplaceTempView("_replaced_rows")
        kept = frame.sparkSession.sql(translate(
            f"SELECT * FROM _replaced_rows WHERE NOT coalesce(({scope.predicate}), false)"))  # noqa: S608 - our own predicate
        rows = frame.unionByName(kept, allowMissingColumns=True)
    prefix = "w" if txn is None else f"{_safe(txn.app_id)}-b{txn.batch_id}"
    adds = _write(rows, FileTarget(table_root(lake, spec), schema, spec.partition_by, prefix, spec.unique,
                                   storage=storage(lake)))
    commit_files(lake, spec, schema, adds, removes=current, app_id=None if txn is None else txn.app_id,
                 batch_id=0 if txn is None else txn.batch_id, metadata=metadata)
    return True


NATIVE_SESSION = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
"""What ``spark.delta: native`` adds to a session salesflow builds (a spark-submit brings its own)."""


def require_native(spark: SparkSession) -> None:
    """One clear line when ``spark.delta: native`` runs without delta-spark on the classpath (the
    JVM would otherwise fail at the first read with a class-loading trace)."""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # type: ignore[union-attr]
    except Exception:  # Py4JJavaError wrapping ClassNotFoundException
        raise ConfigError(
            "spark.delta: native needs the delta-spark jars on the classpath: add "
            "io.delta:delta-spark_2.13:<version for your Spark> to spark.packages (or spark-submit "
            "--packages), or set spark.delta: commit") from None


def read_native(spark: SparkSession, lake: Lake, spec: TableSpec, version: int | None) -> DataFrame | None:
    """``spark.delta: native``: the table at ``version`` through delta-spark; None when it does not
    exist. delta-spark applies deletion vectors and column mapping itself."""
    if not lake.exists(spec):
        return None
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_root(lake, spec))


def write_native(frame: DataFrame, lake: Lake, spec: TableSpec, scope: WriteScope, txn: Txn | None,
                 metadata: Mapping[str, str] | None, translate: Callable[[str], str]) -> bool:
    """``spark.delta: native``: delta-spark writes and commits on the cluster. The application
    transaction rides on ``txnAppId``/``txnVersion``, which delta-spark skips when that version
    is committed; the check before it spares the job. A replace is ``replaceWhere``."""
    if txn is not None and committed(lake, spec, txn.app_id, txn.batch_id):
        return False
    writer = frame.write.format("delta").option("mergeSchema", "true")
    if txn is not None:
        writer = writer.option("txnAppId", txn.app_id).option("txnVersion", txn.batch_id)
    if metadata:
        writer = writer.option("userMetadata", json.dumps(dict(metadata), sort_keys=True))
    if spec.partition_by:
        writer = writer.partitionBy(*spec.partition_by)
    if scope.predicate is None:
        writer = writer.mode("append")
    else:
        writer = writer.mode("overwrite").option("replaceWhere", _where(translate(f"SELECT 1 WHERE {scope.predicate}")))
    writer.save(table_root(lake, spec))
    return True


def _where(select: str) -> str:
    """The condition of a translated ``SELECT 1 WHERE <predicate>`` (Spark's spelling of ours)."""
    return select.split(" WHERE ", 1)[1]


def _write(frame: DataFrame, target: FileTarget) -> list[NewFile]:
    if target.partition_by:  # each partition value in one task: one file per value, not per task
        frame = frame.repartition(*target.partition_by)
    try:
        # One small row per written file comes back; the rows stay where they were computed.
        written = frame.mapInArrow(partial(write_files, target), ACTION_FIELDS).collect()
    except Exception as exc:  # the task's error arrives as the JVM's text
        text = str(exc)
        if "ArrowInvalid" in text or "ArrowNotImplementedError" in text or "needs escaping" in text:
            line = next((ln for ln in text.splitlines() if "Arrow" in ln or "escaping" in ln), text)[:300]
            raise LakeSchemaError(f"{target.root} rejected the batch: {line.strip()}") from exc
        raise LakeWriteError(f"writing {target.root} failed: {text.strip().splitlines()[0][:300]}") from exc
    return [NewFile(row.path, row.size, json.loads(row.partition_values), row.stats, row.modification_time)
            for row in written]


def _frame_schema(frame: DataFrame) -> pa.Schema:
    """A new table's schema: the frame's, in Delta's types (microsecond UTC timestamps, plain strings)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return plain_schema(to_arrow_schema(frame.schema, timezone="UTC"))


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:40]
