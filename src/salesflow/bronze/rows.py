"""Bronze rows every source shares: the batch handed on, the bronze.events model over received
records, the exactly-once append, and the global batch ids."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.bronze.oversized import PayloadLimit, by_reference
from salesflow.common.lines import decode_lines
from salesflow.engine.base import EngineAdapter, Txn, WriteScope
from salesflow.errors import LakeWriteError, ModelError
from salesflow.lake.delta import Lake
from salesflow.lake.log import column_max
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.models import Model, load_model
from salesflow.models.row_wise import beside_input, reading
from salesflow.sources.landing import Segment


@dataclass(frozen=True)
class BronzeBatch:
    batch_id: int
    segments: tuple[str, ...]
    rows: int
    written: bool
    """False when the commit already existed (a replay after a crash)."""
    table: pa.Table | None = None
    """The rows, for handing straight to Silver in the same process."""
    seconds: float = 0.0
    commit: Future[BronzeBatch | None] | None = None
    """Set when the rows were handed over while their Bronze commit was still being written: the
    step that writes it. Nothing derived from the rows may be written before ``durable()``."""

    def durable(self) -> None:
        """Wait until these rows are committed to Bronze; raise if the commit failed (the batch
        stays pending and the next step redoes it) or was not this step's to make."""
        if self.commit is None:
            return
        done = self.commit.result()
        if done is None or not done.written:
            raise LakeWriteError(f"bronze batch {self.batch_id} was committed by another writer; it is read back")


def segment_table(segment: Segment, lines: pa.Array, first_seq: int, batch_id: int) -> pa.Table:
    produced = int(segment.path.stat().st_mtime * 1_000_000)  # landing: the segment's publish time
    return segment_records(segment, lines, produced, batch_id, first_seq)


def segment_records(segment: Segment, lines: pa.Array, produced_us: int, batch_id: int,
                    first_seq: int) -> pa.Table:
    """Bronze input rows of one landing segment (also built by the Spark job from file contents)."""
    line_numbers = pc.cast(pa.array(np.arange(1, len(lines) + 1)), pa.string())
    return bronze_input(
        lines,
        segment.source,
        segment.name,
        pc.binary_join_element_wise(segment.name, line_numbers, ":"),
        first_seq,
        batch_id,
        pa.scalar(produced_us, pa.timestamp("us", "UTC")),
    )


def bronze_input(lines: pa.Array | list[bytes], source: str, source_file: str | pa.Array | pa.ChunkedArray,
                 positions: pa.Array, first_seq: int, batch_id: int,
                 produced_at: pa.Scalar | pa.Array | pa.ChunkedArray) -> pa.Table:
    """The rows every source hands to the bronze.events model: each record's text (decoded,
    invalid UTF-8 flagged) with its lineage. ``source_file`` and ``produced_at`` are one value for
    the whole batch or one per record."""
    payload, valid = decode_lines(lines)
    n = len(payload)
    return pa.table({
        "payload": payload,
        "valid_utf8": valid,
        "source": pa.repeat(source, n).cast(pa.string()),
        "source_file": _column(source_file, n).cast(pa.string()),
        "source_position": positions.cast(pa.string()),
        "record_seq": pa.array(np.arange(first_seq, first_seq + n), pa.int64()),
        "batch_id": pa.repeat(batch_id, n).cast(pa.int64()),
        "produced_at": _column(produced_at, n).cast(pa.timestamp("us", "UTC")),
    })


def _column(value: object, n: int) -> pa.Array:
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    return value if isinstance(value, pa.Array) else pa.repeat(value, n)


def files_in_bronze(lake: Lake, names: list[str]) -> set[str]:
    """Which of these landing segment names Bronze already holds (its ``source_file`` column)."""
    return set(lake.distinct((BRONZE_EVENTS,), "source_file", ds.field("source_file").isin(names)))


def next_bronze_batch(lake: Lake, after: int = -1) -> int:
    """The next batch id: past both ``after`` (a source's own last batch) and every id in Bronze.

    Batch ids are global across sources because Silver slices Bronze by batch id. The highest is
    read from the Delta log's per-file statistics, so it costs no data scan.
    """
    highest = column_max(lake, BRONZE_EVENTS, "batch_id")
    return max(after, -1 if highest is None else int(highest)) + 1


def write_bronze(lake: Lake, engine: EngineAdapter, records: pa.Table, app_id: str, batch_id: int,
                 metadata: dict[str, str], limit: PayloadLimit,
                 txn_version: int | None = None) -> tuple[pa.Table | None, bool]:
    """Step 2 of every source's protocol: the bronze.events model over the records, appended once
    per (app_id, txn_version); the version is the batch id unless the source counts its own.
    Returns the rows when the engine made them in this process (see ``bronze_rows``)."""
    rows = bronze_rows(engine, records, limit)
    return rows, append_bronze(lake, engine, rows, app_id, batch_id, metadata, txn_version)


def bronze_rows(engine: EngineAdapter, records: pa.Table, limit: PayloadLimit) -> pa.Table | None:
    """The Bronze rows of a source's records: the bronze.events model beside the records as
    received, oversized ones by reference. An engine whose results live elsewhere (Spark) keeps
    them there as relation ``bronze_rows`` and None is returned: they reach the lake from where they
    were computed, and Silver reads them back from Bronze."""
    records = by_reference(records, limit)
    engine.register("landing_records", records)
    if engine.KEEPS_RESULTS_IN_PROCESS:
        return as_received(records, engine.run(load_model("bronze.events"), ingested_at=datetime.now(UTC)))
    engine_bronze_rows(engine, records.column_names, records.num_rows)
    return None


def engine_bronze_rows(engine: EngineAdapter, received: list[str], count: int, records: str | None = None) -> None:
    """Relation ``bronze_rows`` on the engine, from its relation ``landing_records`` (columns
    ``received``, ``count`` rows; or the query ``records`` standing in for it): the bronze.events
    model's columns beside the records as received. The model is row-wise, so one pass computes
    them beside the columns it carries along (joining its result back on record_seq moved every
    payload across the cluster once more: bench/RESULTS.md). It is a view where the engine can
    plan through one: the Bronze write is its one reader, and a copy of every payload in Spark's
    executor storage cost 4-7 s of a 2M-record batch."""
    sql = load_model("bronze.events").render(ingested_at=datetime.now(UTC))
    fused = beside_input(sql, "bronze.events", [n for n in received if n in RECEIVED.names], "make Bronze rows")
    if fused is None:
        engine.run_into("bronze_added", Model("bronze.events", sql if records is None else
                                              reading(sql, "landing_records", records)))
        added = [name for name in engine.schema("bronze_added").names if name != "record_seq"]
        columns = _received_columns(received, "r.")
        records_in = "landing_records" if records is None else f"({records})"
        engine.define("bronze_rows", f"SELECT {', '.join([*columns, *(f'a.{_q(n)}' for n in added)])} "  # noqa: S608 - our own names
                                     f"FROM {records_in} AS r JOIN bronze_added AS a "
                                     'ON r."record_seq" = a."record_seq"')
    else:
        one_pass, own = fused
        if records is not None:
            one_pass = reading(one_pass, "landing_records", records)
        columns = _received_columns(received, "")
        engine.run_into("bronze_rows", Model("bronze.events beside its records", f"SELECT {', '.join(columns)}, "  # noqa: S608 - our own names
                                         f"{', '.join(_q(n) for n in own if n not in RECEIVED.names)} "
                                         f"FROM ({one_pass}) AS m"), view=True)
    if engine.rows("bronze_rows") != count:
        raise ModelError("bronze.events must return each landing record once")


def _received_columns(received: list[str], prefix: str) -> list[str]:
    """RECEIVED's columns in table order, from ``prefix`` where the source gave one, else NULL."""
    return [f"{prefix}{_q(n)}" if n in received else f'CAST(NULL AS VARCHAR) AS "{n}"' for n in RECEIVED.names]


def _q(name: str) -> str:
    return f'"{name}"'


def append_bronze(lake: Lake, engine: EngineAdapter, rows: pa.Table | None, app_id: str, batch_id: int,
                  metadata: dict[str, str], txn_version: int | None = None) -> bool:
    """Append Bronze rows once per (app_id, txn_version) through the engine; False when that
    commit already exists. ``rows`` were made in this process from records it received; None:
    they are the engine's relation ``bronze_rows``."""
    if rows is not None:
        engine.register("bronze_rows", rows)
    txn = Txn(app_id, batch_id if txn_version is None else txn_version)
    return engine.write_table(lake, BRONZE_EVENTS, "bronze_rows", WriteScope.append(), txn,
                              metadata={**metadata, "salesflow.batch_id": str(batch_id)})


RECEIVED = pa.schema([
    ("payload", pa.string()), ("valid_utf8", pa.bool_()), ("source", pa.string()), ("source_file", pa.string()),
    ("source_position", pa.string()), ("record_seq", pa.int64()), ("batch_id", pa.int64()),
    ("produced_at", pa.timestamp("us", "UTC")), ("ingest_error", pa.string()),
])
"""The columns of a Bronze row as its source handed them over, in table order; the bronze.events
model adds the rest."""


def as_received(records: pa.Table, added: pa.Table) -> pa.Table:
    """Bronze rows: each record's columns as received, then the model's, matched by record_seq
    (ascending in every source's records; an engine may hand its rows back in another order)."""
    if not added["record_seq"].equals(records["record_seq"]):
        added = added.take(pc.sort_indices(added["record_seq"]))
        if not added["record_seq"].equals(records["record_seq"]):
            raise ModelError("bronze.events must return each landing record once")
    if "ingest_error" not in records.column_names:  # only adapters that split records can fail to
        records = records.append_column("ingest_error", pa.nulls(records.num_rows, pa.string()))
    received = records.select(RECEIVED.names).cast(RECEIVED)
    return pa.table({**{name: received[name] for name in RECEIVED.names},
                     **{name: added[name] for name in added.column_names if name != "record_seq"}})
