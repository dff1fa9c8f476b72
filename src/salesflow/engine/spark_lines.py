"""Lines of files, read and split by Spark's executors (its text source, split at each newline as
the landing log splits them) and numbered within each file without a Python worker.

The text source hands each line's bytes over as they are (not decoded), so a line that is not
valid UTF-8 is found by ``is_valid_utf8`` and kept as bytes. Spark takes a path as a Hadoop path
(a percent sign is a percent sign, brackets and stars are globs) and names a file the way a URI
spells it: paths are handed over decoded with their glob characters escaped, and the names come
back decoded in the one row per split. A file larger than a read split is read in several; a
line's number is its place in its split plus the lines of the file's splits before it. Only one
row per split (its line count, first row id, longest line and validity) comes to the driver to
work that out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlparse

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def hadoop_path(uri: str) -> str:
    """A file's URI as the path Spark's readers take: percent escapes decoded (Hadoop reads them
    literally) and glob characters escaped (Spark globs every path it is given)."""
    parts = urlparse(uri)
    path = re.sub(r"([{}\[\]*?\\])", r"\\\1", unquote(parts.path))
    return f"{parts.scheme}://{parts.netloc}{path}" if parts.scheme else path


def listed_uri(path: str) -> str:
    """A path as Spark lists a file (a Hadoop path: its characters as they are, ``file:/a b``)
    as a URI (``file:///a%20b``), the form the lake and ``hadoop_path`` take."""
    found = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):(//[^/]*)?(.*)$", path)
    if found is None:
        return Path(path).resolve().as_uri()
    scheme, authority, rest = found.groups()
    return f"{scheme}:{authority or '//'}{quote(rest)}"


def read_lines(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Each line of the files with its file's name, its split's start, a row id that counts up
    within the split (``monotonically_increasing_id``: consecutive within a partition, whose
    splits are read one after another), and its validity and length, worked out once here."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling

    return spark.read.option("lineSep", "\n").text([hadoop_path(p) for p in paths]).select(
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
    """Per split (``file`` as Spark spells it, ``block``, ``first_row``): the number of its first
    line in the file, and the file's ``name``."""
    ordered = splits.sort_by([("file", "ascending"), ("block", "ascending")])
    files, lines = ordered["file"].to_pylist(), ordered["lines"].to_pylist()
    before = [0, *accumulate(lines)][:-1]
    file_start = {f: before[i] for i, f in reversed(list(enumerate(files)))}  # the file's first split
    return pa.table({"file": ordered["file"], "block": ordered["block"], "first_row": ordered["first_row"],
                     "first_line": pa.array([1 + b - file_start[f] for f, b in zip(files, before, strict=True)],
                                            pa.int64()),
                     "name": pa.array([unquote(f) for f in files], pa.string())})


def per_file(splits: pa.Table) -> pa.Table:
    """The splits' rows summed per file (by its name): ``lines``, ``longest`` and ``valid``."""
    named = splits.append_column("name", pa.array([unquote(f) for f in splits["file"].to_pylist()], pa.string()))
    grouped = named.group_by("name").aggregate([("lines", "sum"), ("longest", "max"), ("valid", "all")])
    return grouped.select(["name", "lines_sum", "longest_max", "valid_all"]).rename_columns(
        ["file", "lines", "longest", "valid"])


def numbered(kept: DataFrame, starts: DataFrame) -> DataFrame:
    """The lines with their number in the file, as ``salesflow.engine.base.LINES``."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own spelling

    return kept.join(F.broadcast(starts), ["file", "block"]).select(
        F.col("name").alias("file"), (F.col("row_id") - F.col("first_row") + F.col("first_line")).alias("line"),
        F.when(F.col("valid"), F.col("content")).alias("text"),
        F.when(~F.col("valid"), F.col("content").cast("binary")).alias("raw"), "bytes")
