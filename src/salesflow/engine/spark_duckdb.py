"""Row-wise models on Spark, run by DuckDB inside the executors' Python workers.

A model that reads one relation and computes each output row from one input row (no join,
aggregate, window, ordering or set operation) gives the same rows whatever way its input is
partitioned. Such a model can run where the rows are: each partition's Arrow batches stream into
an in-memory DuckDB in the Python worker beside the executor, which runs the model's own text (the
DuckDB dialect every model is written in, untranslated) and streams the result back to Spark.

Why: Silver's parse checks the exact JSON type of every field, repeated keys, drift and control
characters. Spark SQL has no function for a JSON value's type short of casting it to VARIANT and
reading its schema, which on this parse cost several times what DuckDB's JSON reader does in the
same worker (bench/RESULTS.md). Rows still never reach the driver: only the model's text and the
two schemas travel in the task.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import pyarrow as pa

from salesflow.engine.duckdb import DuckDBEngine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType


def run_in_executors(frame: DataFrame, relation: str, sql: str, out: StructType) -> tuple[DataFrame, set[str]]:
    """``sql`` over ``frame`` (known to it as ``relation``), partition by partition, as a frame of
    Spark schema ``out`` (the schema Spark SQL's translation of the same model has), and the
    names of its JSON columns.

    A JSON value crosses between the engines as its text (VARIANT has no Arrow form). Out of
    DuckDB it stays text: Spark's parser refuses a key repeated inside a value, where the model's
    own rules judge one (an order line naming ``quantity`` twice is quarantined by the model that
    reads the lines), so only a model DuckDB runs may read it (``SparkEngine`` checks)."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StringType, StructField, StructType

    variants_in = {f.name for f in frame.schema.fields if f.dataType.simpleString() == "variant"}
    plain_in = frame.select(*[F.to_json(c).alias(c) if c in variants_in else F.col(c) for c in frame.columns])
    json_out = {f.name for f in out.fields if f.dataType.simpleString() == "variant"}
    plain_out = StructType([StructField(f.name, StringType() if f.name in json_out else f.dataType, True)
                            for f in out.fields])
    task = partial(_run, sql, relation, to_arrow_schema(plain_out, timezone="UTC"))
    return plain_in.mapInArrow(task, plain_out), json_out


def _run(sql: str, relation: str, schema_out: pa.Schema,
         batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """In the Python worker: one DuckDB query over the partition's batches, streamed."""
    first = next(batches, None)
    if first is None:  # no rows in, none out: the model is row-wise
        return
    engine = DuckDBEngine(threads=1)  # the task has one core; Spark runs the others
    try:
        engine.con.register(relation, pa.RecordBatchReader.from_batches(first.schema,
                                                                        itertools.chain([first], batches)))
        for batch in engine.con.sql(sql).to_arrow_reader(65_536):
            yield _conform(batch, schema_out)
    finally:
        engine.close()


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with ``schema``'s names and types (DuckDB's JSON and view types are plain strings)."""
    columns = []
    for field in schema:
        column = batch.column(batch.schema.get_field_index(field.name))
        if isinstance(column.type, pa.ExtensionType):
            column = column.storage
        columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)
