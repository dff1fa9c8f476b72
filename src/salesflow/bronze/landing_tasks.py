"""Bronze input records of landing files, built where the files' bytes are (Spark's executors,
through the engine's ``keep_lines``): the same lines, positions, sequence numbers and
oversized-payload references the embedded landing runner builds on its own process.

The driver plans from one small row per file (its name and publish time) and learns one row per
file back (its lines, its longest line, whether all are valid UTF-8). The lines are made records
in SQL on the engine; only lines that are not valid UTF-8 or are over the payload limit, rare,
pass through Python (on the executors: decoded as the landing runner decodes them, an oversized
one replaced by its reference). Used by ``salesflow batch`` on Spark and by ``spark stream``'s
micro-batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import pyarrow as pa

from salesflow.bronze.oversized import PayloadLimit, by_reference
from salesflow.bronze.rows import RECEIVED, engine_bronze_rows
from salesflow.common.lines import decode_lines, file_name
from salesflow.engine.base import EngineAdapter
from salesflow.sources.landing import Segment

MENDED = pa.schema([("file", pa.string()), ("line", pa.int64()), ("payload", pa.string()),
                    ("valid_utf8", pa.bool_()), ("ingest_error", pa.string())])
"""Lines that are not plain text records, as the landing runner makes them."""


def keep_landing_records(engine: EngineAdapter, files: Sequence[tuple[str, int]], batch_id: int,
                         limit: PayloadLimit) -> int:
    """Relation ``bronze_rows`` on an engine whose workers read files: ``files`` are (URI, publish
    time in microseconds) in record order. Records are numbered across the files in that order,
    as the landing runner numbers them. Returns how many records they hold."""
    published = {file_name(uri): produced_us for uri, produced_us in files}
    found = engine.keep_lines([uri for uri, _ in files], "landing_lines").to_pylist()
    counts = {row["file"]: row["lines"] for row in found}
    names, first, seq = list(published), [], 0  # a dict keeps the files' order
    for name in names:
        first.append(seq)
        seq += counts.get(name, 0)
    engine.register("landing_offsets", pa.table({
        "file": pa.array(names, pa.string()), "first_seq": pa.array(first, pa.int64()),
        "source": pa.array([Segment(Path(n)).source for n in names], pa.string()),
        "produced_at": pa.array([published[n] for n in names], pa.timestamp("us", "UTC"))}))
    mended = any(not row["valid"] or (row["longest"] or 0) > limit.max_bytes for row in found)
    if mended:
        engine.define("landing_unusual", "SELECT file, line, COALESCE(raw, encode(text)) AS raw "  # noqa: S608 - our own names, an int
                                         f"FROM landing_lines WHERE raw IS NOT NULL OR bytes > {int(limit.max_bytes)}")
        engine.keep_mapped("landing_unusual", partial(mend, limit), MENDED, "landing_mended")
    engine_bronze_rows(engine, RECEIVED.names, seq, records=_records(batch_id, mended))
    return seq


def _records(batch_id: int, mended: bool) -> str:
    """The landing lines as ``RECEIVED`` records, the mended ones taken from ``landing_mended``."""
    text, valid, error = "l.text", "TRUE", "CAST(NULL AS VARCHAR)"
    join = ""
    if mended:
        text, valid, error = "COALESCE(m.payload, l.text)", "COALESCE(m.valid_utf8, TRUE)", "m.ingest_error"
        join = " LEFT JOIN landing_mended AS m ON m.file = l.file AND m.line = l.line"
    return (f"SELECT {text} AS payload, {valid} AS valid_utf8, o.source, l.file AS source_file, "  # noqa: S608 - our own names
            "l.file || ':' || CAST(l.line AS VARCHAR) AS source_position, "
            f"o.first_seq + l.line - 1 AS record_seq, CAST({int(batch_id)} AS BIGINT) AS batch_id, o.produced_at, "
            f"{error} AS ingest_error FROM landing_lines AS l JOIN landing_offsets AS o ON o.file = l.file{join}")


def mend(limit: PayloadLimit, part: int, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:  # noqa: ARG001 - any part alike
    """Lines the engine could not take as they are: decoded with invalid bytes replaced (and
    flagged), and an oversized one replaced by its reference (``bronze.oversized``)."""
    for batch in batches:
        payload, valid = decode_lines(batch.column("raw"))
        records = pa.table({"payload": payload, "ingest_error": pa.nulls(batch.num_rows, pa.string())})
        records = by_reference(records, limit)
        yield from pa.table({"file": batch.column("file"), "line": batch.column("line"),
                             "payload": records["payload"], "valid_utf8": valid,
                             "ingest_error": records["ingest_error"]}, schema=MENDED).to_batches()


def received(records: pa.Table) -> pa.Table:
    """Records as a task hands them to the bronze.events model: ``RECEIVED``'s columns, an
    ``ingest_error`` of none where the source found none."""
    if "ingest_error" not in records.column_names:
        records = records.append_column("ingest_error", pa.nulls(records.num_rows, pa.string()))
    return records.select(RECEIVED.names).cast(RECEIVED)
