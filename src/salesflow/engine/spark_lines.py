"""Lines of files, read and split by Spark's executors (its text source, split at each newline as
the landing log splits them) and numbered within each file without a Python worker.

The text source hands each line's bytes over as they are (not decoded), so a line that is not
valid UTF-8 is found by ``is_valid_utf8`` and kept as bytes. A file larger than a read split is
read in several; a line's number is its place in its split plus the lines of the file's splits
before it. Only one row per split (its line count, first row id, longest line and validity)
comes to the driver to work that out.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def read_lines(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Each line of the files with its file's name, its split's start, a row id that counts up
    within the split (``monotonically_increasing_id``: consecutive within a partition, whose
    splits are read one after another), and its validity and length, worked out once here."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling

    return spark.read.option("lineSep", "\n").text(list(paths)).select(
        F.col("_metadata.file_name").alias("file"), F.col("_metadata.file_block_start").alias("block"),
        F.monotonically_increasing_id().alias("row_id"), F.col("value").alias("content"),
        F.is_valid_utf8("value").alias("valid"), F.octet_length("value").cast("bigint").alias("bytes"))


def split_counts(kept: DataFrame) -> DataFrame:
    """One row per split of the lines ``read_lines`` gave (computed once: a checkpoint)."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling

    return kept.groupBy("file", "block").agg(
        F.count(F.lit(1)).alias("lines"), F.min("row_id").alias("first_row"),
        F.max("bytes").alias("longest"), F.bool_and("valid").alias("valid"))


def first_lines(splits: pa.Table) -> pa.Table:
    """Per split (``file``, ``block``, ``first_row``): the number of its first line in the file."""
    ordered = splits.sort_by([("file", "ascending"), ("block", "ascending")])
    files, lines = ordered["file"].to_pylist(), ordered["lines"].to_pylist()
    before = [0, *accumulate(lines)][:-1]
    file_start = {f: before[i] for i, f in reversed(list(enumerate(files)))}  # the file's first split
    return pa.table({"file": ordered["file"], "block": ordered["block"], "first_row": ordered["first_row"],
                     "first_line": pa.array([1 + b - file_start[f] for f, b in zip(files, before, strict=True)],
                                            pa.int64())})


def per_file(splits: pa.Table) -> pa.Table:
    """The splits' rows summed per file: ``lines``, ``longest`` and ``valid``."""
    grouped = splits.group_by("file").aggregate([("lines", "sum"), ("longest", "max"), ("valid", "all")])
    return grouped.select(["file", "lines_sum", "longest_max", "valid_all"]).rename_columns(
        ["file", "lines", "longest", "valid"])


def numbered(kept: DataFrame, starts: DataFrame) -> DataFrame:
    """The lines with their number in the file, as ``salesflow.engine.base.LINES``."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling

    return kept.join(F.broadcast(starts), ["file", "block"]).select(
        "file", (F.col("row_id") - F.col("first_row") + F.col("first_line")).alias("line"),
        F.when(F.col("valid"), F.col("content")).alias("text"),
        F.when(~F.col("valid"), F.col("content").cast("binary")).alias("raw"), "bytes")
