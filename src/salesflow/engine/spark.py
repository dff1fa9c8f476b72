"""Spark adapter: the same SQL models through Spark SQL (PySpark local mode or a cluster).

Lake tables are read and written by the executors (:mod:`salesflow.engine.spark_tables`): the
driver lists a pinned snapshot's files and commits the files the executors wrote, with the Delta
application transaction, through delta-rs. Landing segments are read, split and numbered by the
executors (``keep_lines``); inputs that originate in the driver's process (Kafka messages polled there,
reference files) arrive as Arrow and become temporary views; only small results (counts,
samples) come back as Arrow. Models are translated from the DuckDB dialect by
:mod:`salesflow.engine.spark_sql`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.dataset as ds

from salesflow.common.extras import require
from salesflow.config import LakeConfig, SparkConfig
from salesflow.engine.base import EngineAdapter, PartTask, Txn, WriteScope
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.engine.parquet_files import plain_schema
from salesflow.engine.spark_checkpoints import checkpoint, checkpoint_rdd, placed
from salesflow.engine.spark_duckdb import run_in_executors
from salesflow.engine.spark_lines import first_lines, numbered, per_file, read_lines, split_counts
from salesflow.engine.spark_sql import JSON_TYPE_FUNCTIONS, SparkTranslator
from salesflow.engine.spark_tables import (
    NATIVE_SESSION,
    read_frame,
    read_native,
    require_native,
    write_frame,
    write_native,
)
from salesflow.errors import ModelError
from salesflow.lake.delta import Lake
from salesflow.lake.files import table_files
from salesflow.lake.tables import TableSpec
from salesflow.models import Model
from salesflow.models.ctes import split_materialized
from salesflow.models.row_wise import relations_and_columns, row_input
from salesflow.redact import is_secret_key

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# Session settings that make Spark SQL mean what the DuckDB models mean.
SEMANTICS = {
    "spark.sql.session.timeZone": "UTC",        # event_date is the UTC day, as on DuckDB
    "spark.sql.ansi.enabled": "false",          # x / 0 is NULL, as on DuckDB
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}

DRIVER_BOUNDS = {
    # A broadcast join's build side is collected on the driver first. Adaptive execution decides
    # from compressed shuffle sizes: a side under the 10 MB default came to 19.8 MiB at the driver
    # on 1M events (spark.driver.maxResultSize=16m failed the job). Smaller sides stay broadcast.
    "spark.sql.autoBroadcastJoinThreshold": "4m",
    "spark.sql.adaptive.autoBroadcastJoinThreshold": "4m",
}
"""Defaults that keep what reaches the driver small whatever the data; ``spark.conf`` overrides them."""


def s3a_conf(lake: LakeConfig) -> dict[str, str]:
    """Hadoop s3a settings from the lake's own config, for Spark's paths in the same bucket
    (a Structured Streaming checkpointLocation ``s3a://...``; needs hadoop-aws on the cluster).
    Lake tables themselves are read and written by delta-rs with the same settings."""
    if not (lake.root or "").lower().startswith(("s3://", "s3a://")):
        return {}
    conf = {"spark.hadoop.fs.s3a.path.style.access": str(not lake.virtual_hosted_style).lower()}
    if lake.endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = lake.endpoint
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(lake.endpoint.startswith("https")).lower()
    if lake.region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = lake.region
    if lake.access_key_id and lake.secret_access_key:
        conf["spark.hadoop.fs.s3a.access.key"] = lake.access_key_id
        conf["spark.hadoop.fs.s3a.secret.key"] = lake.secret_access_key.get_secret_value()
    if lake.session_token:
        conf["spark.hadoop.fs.s3a.session.token"] = lake.session_token.get_secret_value()
    return conf


def spark_session(config: SparkConfig, lake: LakeConfig | None = None) -> SparkSession:
    SparkSession = require("pyspark.sql", "the spark engine").SparkSession
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this interpreter
    builder = SparkSession.builder
    settings = {**SEMANTICS, **DRIVER_BOUNDS, **(s3a_conf(lake) if lake else {}),
                **(NATIVE_SESSION if config.delta == "native" else {}), **config.conf}
    if not os.environ.get("SALESFLOW_UNDER_SPARK_SUBMIT"):  # spark-submit already chose these
        builder = builder.master(config.master).appName(config.app_name)
        settings = {
            "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
            "spark.driver.memory": config.driver_memory,
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            **settings,
        }
        if config.packages:
            settings["spark.jars.packages"] = ",".join(config.packages)
    # Secrets never go on the builder: it hands its settings to spark-submit as --conf arguments,
    # which any local user can read in the process list. They are set in the running session.
    secrets = {k: v for k, v in settings.items() if is_secret_key(k)}
    for key, value in settings.items():
        if key not in secrets:
            builder = builder.config(key, value)
    session = builder.getOrCreate()
    hadoop = session.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    for key, value in secrets.items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key.removeprefix("spark.hadoop."), value)
        else:
            session.conf.set(key, value)
    session.sparkContext.setLogLevel(config.log_level)
    return session


class SparkEngine(EngineAdapter):
    DIALECT: ClassVar[str] = "spark"
    DATA_ERRORS: ClassVar[tuple[str, ...]] = (  # the JVM's, inside the Py4J or Spark Connect text,
        "ArithmeticException", "NumberFormatException", "DateTimeException",
        *DuckDBEngine.DATA_ERRORS)  # and DuckDB's, from a model it runs on the executors

    def __init__(self, config: SparkConfig, session: SparkSession | None = None,
                 lake: LakeConfig | None = None) -> None:
        self.config = config
        self.spark = session or spark_session(config, lake)
        if config.delta == "native":
            require_native(self.spark)
        for function in JSON_TYPE_FUNCTIONS:
            self.spark.sql(function)
        names = [row.function for row in self.spark.sql("SHOW FUNCTIONS").collect()]
        self.translator = SparkTranslator(names, self.describe)
        self._cached: dict[str, DataFrame] = {}
        self._json_text: dict[str, set[str]] = {}
        """Per relation, its columns of JSON text that DuckDB wrote on the executors."""

    def register(self, name: str, data: pa.Table | ds.Dataset) -> None:
        table = _plain(data.to_table() if isinstance(data, ds.Dataset) else data)
        self._view(name, self.spark.createDataFrame(table))

    def query(self, sql: str, source: str = "query") -> pa.Table:
        return _arrow(self.spark.sql(self.translator.translate(sql, source)), source)

    def read_table(self, lake: Lake, spec: TableSpec, name: str, *, predicate: str | None = None,
                   columns: list[str] | None = None, version: int | None = None,
                   empty: pa.Schema | None = None, small: bool = False) -> bool:
        """Executors read the files of the pinned snapshot that ``predicate`` may match and filter
        them; the driver only lists the files."""
        if self.config.delta == "native":
            found = read_native(self.spark, lake, spec, version)
        else:
            files = table_files(lake, spec, predicate=predicate, version=version)
            found = None if files is None else read_frame(self.spark, lake, spec, files)
        if found is None:
            if empty is not None:
                self.register(name, empty.empty_table())
            return False
        frame = found
        if predicate is not None:
            scan = f"_scan_{name}"
            self._view(scan, frame)
            frame = self.spark.sql(self.translator.translate(
                f'SELECT * FROM "{scan}" WHERE {predicate}', f"read {spec.qualified}"))  # noqa: S608 - our own predicates
        if columns and empty is not None:  # a column a newer version added: null in older rows
            from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling
            from pyspark.sql.pandas.types import from_arrow_type

            for column in [c for c in columns if c not in frame.columns and c in empty.names]:
                frame = frame.withColumn(column, F.lit(None).cast(from_arrow_type(empty.field(column).type)))
        self._view(name, frame.select(*columns) if columns else frame)
        return True

    def write_table(self, lake: Lake, spec: TableSpec, relation: str, scope: WriteScope, txn: Txn | None,
                    metadata: Mapping[str, str] | None = None) -> bool:
        """Executors write the relation's Parquet files under the table path; the driver commits
        their add actions (and a replace's removes) as one Delta transaction."""
        write = write_native if self.config.delta == "native" else write_frame
        return write(self._cached[relation], lake, spec, scope, txn, metadata,
                     partial(self.translator.translate, source=f"replace {spec.qualified}"))

    def materialize(self, name: str, sql: str, source: str = "query", key: str | None = None) -> None:
        shared: list[tuple[str, str]] = []
        if source not in self.config.duckdb_models:  # Spark plans a CTE again at each reference
            shared, sql = split_materialized(sql, f"{name}__")
            for relation, query in shared:
                self.materialize(relation, query, source)
        frame, json_text = self._frame(sql, source)
        if key is not None:
            frame = placed(self.spark, frame, key, f"{source} as {name}")
        # Cut the lineage: later models read the rows, not the plan that made them.
        self._view(name, checkpoint(self.spark, frame))
        self._json_text[name] = json_text
        for relation, _ in shared:  # read into the checkpoint just taken: no longer needed
            self._drop(relation)

    def define(self, name: str, sql: str, source: str = "query") -> None:
        """A view Spark plans through: its reader computes it, with the reader's projection and
        filters pushed in, and no copy of its rows is kept (``materialize`` keeps one)."""
        frame, json_text = self._frame(sql, source)
        self._view(name, frame)
        self._json_text[name] = json_text

    def _frame(self, sql: str, source: str) -> tuple[DataFrame, set[str]]:
        """The model as a frame, and its columns of JSON text that DuckDB wrote on the executors."""
        if source in self.config.duckdb_models:  # same rows, same schema, DuckDB's JSON reader
            relation = row_input(sql, source)
            if relation not in self._cached:
                raise ModelError(f"{source} reads {relation}, which is not a relation on this engine")
            frame, json_text = run_in_executors(self._cached[relation], relation, sql,
                                                self._translated_schema(sql, source, relation))
        else:
            read, mentioned = relations_and_columns(sql)
            json_text = self._json_text_read(read, mentioned, source)
            frame = self.spark.sql(self.translator.translate(sql, source))
        return frame, json_text & set(frame.columns)

    def _translated_schema(self, sql: str, source: str, relation: str) -> Any:
        """The schema Spark SQL's translation of a model over ``relation`` has: the one its DuckDB
        run in the executors takes. JSON text columns are seen as the VARIANT they would be in
        Spark SQL while Spark analyses it (no row is read)."""
        json_text = self._json_text.get(relation, set())
        if json_text:
            from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling

            frame = self._cached[relation]
            typed = frame.select(*[F.expr(f"try_parse_json(`{c}`)").alias(c) if c in json_text else F.col(c)
                                   for c in frame.columns])
            typed.createOrReplaceTempView(relation)
            self.translator.variant_columns.update(json_text)
        try:
            return self.spark.sql(self.translator.translate(sql, source)).schema
        finally:
            if json_text:
                self._cached[relation].createOrReplaceTempView(relation)

    def _json_text_read(self, read: set[str], mentioned: set[str], source: str) -> set[str]:
        """JSON text columns (written by DuckDB in the executors) that ``source`` passes on; a model
        that names one is refused: Spark's parser reads some JSON differently (a repeated key)."""
        passed = set()
        for relation in read & self._json_text.keys():
            named = self._json_text[relation] & mentioned
            if named:
                raise ModelError(f"{source} reads {relation}.{sorted(named)[0]}, JSON that DuckDB wrote on the "
                                 f"executors: Spark would parse it differently; add {source} to spark.duckdb_models")
            passed |= self._json_text[relation]
        return passed

    def compute(self, name: str, model: Model, **params: object) -> None:
        """Kept on the executors: nothing comes back to the driver until a write asks for it."""
        self.run_into(name, model, view=False, key=None, **params)

    def compute_sql(self, name: str, sql: str, source: str = "query") -> None:
        self.materialize(name, sql, source)

    def alias(self, name: str, relation: str) -> None:
        self._view(name, self._cached[relation])
        self._json_text[name] = self._json_text.get(relation, set())

    def keep_lines(self, paths: Sequence[str], keep_as: str) -> pa.Table:
        """Executors read, split and number the lines (``engine.spark_lines``); one row per read
        split comes back."""
        if not paths:  # Spark's reader wants at least one
            return super().keep_lines(paths, keep_as)
        kept = read_lines(self.spark, paths).localCheckpoint(eager=True)
        splits = _arrow(split_counts(kept), "lines of files")
        self._view(keep_as, numbered(kept, self.spark.createDataFrame(first_lines(splits))))
        return per_file(splits)

    def map_relation(self, relation: str, task: PartTask, schema: pa.Schema) -> pa.Table:
        """Each partition's rows go to ``task`` on its executor, numbered by the partition."""
        return _arrow(self._mapped(relation, task, schema), f"a task over {relation}")

    def keep_mapped(self, relation: str, task: PartTask, schema: pa.Schema, keep_as: str) -> None:
        """Kept on the executors, and broadcast to its joins when small (``checkpoint``)."""
        self._view(keep_as, checkpoint(self.spark, self._mapped(relation, task, schema)))

    def _mapped(self, relation: str, task: PartTask, schema: pa.Schema) -> DataFrame:
        return self._cached[relation].mapInArrow(partial(_in_partition, task), spark_schema(schema))

    def keep(self, name: str, frame: DataFrame) -> None:
        """A frame built outside the models (a streaming micro-batch's records) as relation
        ``name``, computed once on the executors. A micro-batch belongs to the query's own
        session: it reaches this one through a global view (one SparkContext, both sessions)."""
        frame.localCheckpoint(eager=True).createOrReplaceGlobalTempView(f"salesflow_{name}")
        self._view(name, self.spark.table(f"global_temp.salesflow_{name}"))

    def rows(self, relation: str) -> int:
        return int(self._cached[relation].count())

    def describe(self, relation: str) -> list[tuple[str, str]]:
        """Columns of a registered relation with DuckDB's type names (for schema expectations)."""
        frame = self.spark.table(relation) if relation.isidentifier() else \
            self.spark.sql(self.translator.translate(f"SELECT * FROM {relation}", "describe"))  # noqa: S608 - our own relation
        return [(f.name, duckdb_type(f.dataType.simpleString())) for f in frame.schema.fields]

    def close(self) -> None:
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()
        if not self.config.keep_session:
            self.spark.stop()

    def _drop(self, name: str) -> None:
        """Let a materialized relation go now that nothing reads it: its checkpoint's blocks too
        (``unpersist`` leaves those to the JVM's garbage collector)."""
        self._json_text.pop(name, None)
        frame = self._cached.pop(name, None)
        self.spark.catalog.dropTempView(name)
        if frame is None or any(frame is other for other in self._cached.values()):
            return
        rdd = checkpoint_rdd(frame)
        if rdd is not None:
            rdd.unpersist(False)

    def _view(self, name: str, frame: DataFrame) -> None:
        self._json_text.pop(name, None)
        old = self._cached.pop(name, None)
        if old is not None and all(old is not other for other in self._cached.values()):  # not aliased
            old.unpersist()
        self._cached[name] = frame
        frame.createOrReplaceTempView(name)
        for field in frame.schema.fields:
            if field.dataType.simpleString() == "variant":
                self.translator.variant_columns.add(field.name)


def duckdb_type(spark_type: str) -> str:
    """Spark simpleString -> the DuckDB spelling schema expectations are written in."""
    simple = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT",
              "tinyint": "TINYINT", "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN",
              "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
              "binary": "BLOB"}
    if spark_type in simple:
        return simple[spark_type]
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    if spark_type.startswith("array<") and spark_type.endswith(">"):
        return duckdb_type(spark_type[6:-1]) + "[]"
    return spark_type.upper()


def _plain(table: pa.Table) -> pa.Table:
    """Arrow types Spark's converter reads: view and large variants become the plain ones."""
    schema = plain_schema(table.schema)
    return table if schema.equals(table.schema) else table.cast(schema)


def spark_schema(schema: pa.Schema) -> Any:
    """An Arrow schema as the StructType a ``mapInArrow`` task declares (one definition per shape)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _in_partition(task: PartTask, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    from pyspark import TaskContext

    context = TaskContext.get()
    yield from task(context.partitionId() if context is not None else 0, batches)


def _arrow(frame: DataFrame, source: str) -> pa.Table:
    try:
        return frame.toArrow()
    except Exception as exc:  # Spark wraps JVM errors in many types
        raise ModelError(f"{source} failed on spark: {_first_line(exc)}") from exc


def _first_line(exc: Any) -> str:
    return str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
