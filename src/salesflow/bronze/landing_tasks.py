"""Bronze input records of landing files, built where the files' bytes are (a Spark executor's
Python worker reading them as ``binaryFile``): the same lines, positions, sequence numbers and
oversized-payload references the embedded landing runner builds on its own process.

The driver plans from one small row per file (its name, line count and publish time); only the
plan travels to the tasks, and only counts come back. Used by ``salesflow batch`` on Spark and by
``spark stream``'s micro-batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

import pyarrow as pa

from salesflow.bronze.oversized import PayloadLimit, by_reference
from salesflow.bronze.rows import RECEIVED, engine_bronze_rows, segment_records
from salesflow.engine.base import EngineAdapter
from salesflow.sources.landing import Segment, line_array

LINE_COUNTS = pa.schema([("name", pa.string()), ("lines", pa.int64())])


def keep_landing_records(engine: EngineAdapter, files: Sequence[tuple[str, int]], batch_id: int,
                         limit: PayloadLimit) -> int:
    """Relation ``landing_records`` (and ``bronze_rows``) on an engine whose workers read files:
    ``files`` are (URI, publish time in microseconds) in record order. Two passes over the files
    on the workers: their line counts (to number records as the landing runner does), then their
    records. Returns how many records they hold."""
    uris = [uri for uri, _ in files]
    counted = engine.map_files(uris, count_lines, LINE_COUNTS)
    assert counted is not None  # noqa: S101 - type narrowing: map_files returns what it does not keep
    counts = dict(zip(counted["name"].to_pylist(), counted["lines"].to_pylist(), strict=True))
    plan, seq = {}, 0
    for uri, produced_us in files:
        name = file_name(uri)
        plan[name] = (seq, produced_us)
        seq += counts[name]
    engine.map_files(uris, partial(file_records, plan, batch_id, limit), RECEIVED, keep_as="landing_records")
    engine_bronze_rows(engine, RECEIVED.names, seq)
    return seq


def file_name(uri: str) -> str:
    """A landing file's name (segment names are unique in the log) from its URI or path."""
    return _local_path(uri).name


def _local_path(uri: str) -> PurePosixPath:
    return PurePosixPath(unquote(urlparse(uri).path))


def count_lines(files: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Per file (``path``, ``content``): its name and how many records its lines make."""
    for batch in files:
        paths, contents = batch.column("path").to_pylist(), batch.column("content").to_pylist()
        yield pa.RecordBatch.from_pydict({"name": [file_name(p) for p in paths],
                                          "lines": [len(line_array(c)) for c in contents]}, schema=LINE_COUNTS)


def file_records(plan: Mapping[str, tuple[int, int]], batch_id: int, limit: PayloadLimit,
                 files: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Per planned file (name -> first record_seq, publish time in microseconds): its records as
    the landing runner makes them. Files not in the plan (already in Bronze) give none."""
    for batch in files:
        for path, content in zip(batch.column("path").to_pylist(), batch.column("content").to_pylist(), strict=True):
            local = _local_path(path)
            if local.name not in plan:
                continue
            first_seq, produced_us = plan[local.name]
            segment = Segment(local)  # type: ignore[arg-type]
            records = by_reference(segment_records(segment, line_array(content), produced_us, batch_id, first_seq),
                                   limit)
            for chunk in received(records).to_batches(max_chunksize=20_000):
                yield chunk


def received(records: pa.Table) -> pa.Table:
    """Records as a task hands them to the bronze.events model: ``RECEIVED``'s columns, an
    ``ingest_error`` of none where the source found none."""
    if "ingest_error" not in records.column_names:
        records = records.append_column("ingest_error", pa.nulls(records.num_rows, pa.string()))
    return records.select(RECEIVED.names).cast(RECEIVED)
