"""Bronze input records of landing files, built where the files' bytes are (a Spark executor's
Python worker reading a ``binaryFile`` micro-batch): the same lines, positions, sequence numbers
and oversized-payload references the embedded landing runner builds on its own process.

The driver plans from one small row per file (its name, line count and publish time); only the
plan travels to the tasks, and only counts come back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

import pyarrow as pa

from salesflow.bronze.oversized import PayloadLimit, by_reference
from salesflow.bronze.rows import RECEIVED, segment_records
from salesflow.sources.landing import Segment, line_array

LINE_COUNTS = "path string, lines long"
RECEIVED_FIELDS = ("payload string, valid_utf8 boolean, source string, source_file string, "
                   "source_position string, record_seq long, batch_id long, produced_at timestamp, "
                   "ingest_error string")
"""``bronze.rows.RECEIVED`` in Spark's DDL: the columns a task hands to the bronze.events model."""


def count_lines(files: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Per file (``path``, ``content``): how many records its lines make."""
    for batch in files:
        paths, contents = batch.column("path").to_pylist(), batch.column("content").to_pylist()
        yield pa.RecordBatch.from_pydict({"path": paths, "lines": [len(line_array(c)) for c in contents]},
                                         schema=pa.schema([("path", pa.string()), ("lines", pa.int64())]))


def file_records(plan: Mapping[str, tuple[int, int]], batch_id: int, limit: PayloadLimit,
                 files: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Per planned file (``path`` -> first record_seq, publish time in microseconds): its records
    as the landing runner makes them. Files not in the plan (already in Bronze) give none."""
    for batch in files:
        for path, content in zip(batch.column("path").to_pylist(), batch.column("content").to_pylist(), strict=True):
            if path not in plan:
                continue
            first_seq, produced_us = plan[path]
            segment = Segment(PurePosixPath(unquote(urlparse(path).path)))  # type: ignore[arg-type]
            records = by_reference(segment_records(segment, line_array(content), produced_us, batch_id, first_seq),
                                   limit)
            for chunk in _received(records).to_batches(max_chunksize=20_000):
                yield chunk


def _received(records: pa.Table) -> pa.Table:
    if "ingest_error" not in records.column_names:
        records = records.append_column("ingest_error", pa.nulls(records.num_rows, pa.string()))
    return records.select(RECEIVED.names).cast(RECEIVED)
