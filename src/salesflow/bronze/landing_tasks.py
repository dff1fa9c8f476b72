"""Bronze input records of landing files, built where the files' bytes are (a Spark executor's
Python worker reading them as ``binaryFile``): the same lines, positions, sequence numbers and
oversized-payload references the embedded landing runner builds on its own process.

The driver plans from one small row per file (its name and publish time); only the plan travels
to the tasks, and only each file's record count comes back. Used by ``salesflow batch`` on Spark and by
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


def keep_landing_records(engine: EngineAdapter, files: Sequence[tuple[str, int]], batch_id: int,
                         limit: PayloadLimit) -> int:
    """Relation ``bronze_rows`` on an engine whose workers read files: ``files`` are (URI, publish
    time in microseconds) in record order. The workers read and split the files once, numbering
    each file's records from 0 (``landing_lines``); the driver then learns each file's count (one
    row per file), and the Bronze pass adds each file's first sequence number, so records are
    numbered as the landing runner numbers them. Returns how many records they hold."""
    uris = [uri for uri, _ in files]
    published = {file_name(uri): produced_us for uri, produced_us in files}
    engine.map_files(uris, partial(file_records, published, batch_id, limit), RECEIVED, keep_as="landing_lines")
    counted = engine.query("SELECT source_file, count(*) AS n FROM landing_lines GROUP BY source_file",
                           "landing line counts")
    counts = dict(zip(counted["source_file"].to_pylist(), counted["n"].to_pylist(), strict=True))
    names, first, seq = list(published), [], 0  # a dict keeps the files' order
    for name in names:
        first.append(seq)
        seq += counts.get(name, 0)
    engine.register("landing_offsets", pa.table({"source_file": pa.array(names, pa.string()),
                                                 "first_seq": pa.array(first, pa.int64())}))
    columns = ", ".join("r.record_seq + o.first_seq AS record_seq" if name == "record_seq" else f"r.{name}"
                        for name in RECEIVED.names)
    engine_bronze_rows(engine, RECEIVED.names, seq, records=f"SELECT {columns} FROM landing_lines AS r "  # noqa: S608 - our own names
                                                              "JOIN landing_offsets AS o USING (source_file)")
    return seq


def file_name(uri: str) -> str:
    """A landing file's name (segment names are unique in the log) from its URI or path."""
    return _local_path(uri).name


def _local_path(uri: str) -> PurePosixPath:
    return PurePosixPath(unquote(urlparse(uri).path))


def file_records(published: Mapping[str, int], batch_id: int, limit: PayloadLimit,
                 files: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Per planned file (name -> publish time in microseconds): its records as the landing runner
    makes them, numbered from 0 within the file (``keep_landing_records`` adds the file's first
    sequence number). Files not in the plan (already in Bronze) give none."""
    for batch in files:
        for path, content in zip(batch.column("path").to_pylist(), batch.column("content").to_pylist(), strict=True):
            local = _local_path(path)
            if local.name not in published:
                continue
            segment = Segment(local)  # type: ignore[arg-type]
            records = by_reference(segment_records(segment, line_array(content), published[local.name], batch_id, 0),
                                   limit)
            for chunk in received(records).to_batches(max_chunksize=20_000):
                yield chunk


def received(records: pa.Table) -> pa.Table:
    """Records as a task hands them to the bronze.events model: ``RECEIVED``'s columns, an
    ``ingest_error`` of none where the source found none."""
    if "ingest_error" not in records.column_names:
        records = records.append_column("ingest_error", pa.nulls(records.num_rows, pa.string()))
    return records.select(RECEIVED.names).cast(RECEIVED)
