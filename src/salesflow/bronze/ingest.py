"""Land new landing-log segments in Bronze, one Delta commit per batch, exactly once."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.bronze.lock import bronze_lock
from salesflow.engine.base import EngineAdapter
from salesflow.errors import CheckpointError, LakeWriteError, ModelError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.models import load_model
from salesflow.sources.checkpoint import PendingBatch, SourceCheckpoint
from salesflow.sources.landing import LandingLog, Segment

log = logging.getLogger(__name__)
SOURCE = "landing"
APP_ID = "salesflow.bronze.landing"
READ_THREADS = 2
"""Threads that split and decode a batch's landing segments."""


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


class BronzeIngestor:
    """Moves landing segments into ``bronze.events`` following the checkpoint protocol."""

    def __init__(self, lake: Lake, engine: EngineAdapter, landing: LandingLog,
                 checkpoint: SourceCheckpoint, max_batch_bytes: int) -> None:
        self.lake, self.engine, self.landing = lake, engine, landing
        self.checkpoint, self.max_batch_bytes = checkpoint, max_batch_bytes
        self._ahead: tuple[Future[BronzeBatch | None], Future[BronzeBatch]] | None = None
        """The step in flight on the worker, and where it hands its rows over before committing."""
        self._worker: tuple[ThreadPoolExecutor, Lake, EngineAdapter] | None = None
        self._last: Future[BronzeBatch | None] | None = None
        """The step submitted last (it may still be committing the batch handed over before)."""

    def batches(self) -> Iterator[BronzeBatch]:
        """Ingest everything new: first a batch left pending by a crash, then new segments.

        Steps run on a worker thread (read, modelled and committed to Bronze with its checkpoint),
        so the next batch is ingested while one goes through Silver and Gold: Bronze is about a
        quarter of a batch's CPU, much of it single-threaded (reading, Parquet encoding). Each
        step is the whole protocol under the Bronze lock, and the one worker runs them in turn,
        so the commits and the checkpoint advance exactly as they do one at a time. A batch is
        handed over as soon as its rows exist, while its commit is written (``BronzeBatch.commit``):
        the consumer computes on them and waits for ``durable()`` before writing anything. The
        worker lasts while batches keep coming: once a step finds nothing new it goes, with the
        second engine connection and the rows it held."""
        try:
            while True:
                if self._ahead is None:
                    self._ingest_ahead()
                batch = self._collect() if self._ahead is not None else self._step(self.lake, self.engine)
                if batch is None:
                    return
                self._ingest_ahead()  # queued behind the commit in flight
                yield batch
        finally:
            self._settle()

    def _step(self, lake: Lake, engine: EngineAdapter, handover: Future[BronzeBatch] | None = None,
              after: Future[BronzeBatch | None] | None = None) -> BronzeBatch | None:
        if after is not None and after.exception() is not None:
            return None  # the step before failed: its consumer stops, and the next run recovers
        with bronze_lock(self.checkpoint.path.parent):
            self._recover(lake)
            planned = self.checkpoint.pending or self._plan_next(lake)
            return None if planned is None else self._ingest(planned, lake, engine, handover)

    def _ingest_ahead(self) -> None:
        if self._worker is None:
            engine = self.engine.for_thread()
            if engine is None:  # the engine cannot run a second model at once: stay in step
                return
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-ahead")
            self._worker = (pool, self.lake.sibling(), engine)
        pool, lake, engine = self._worker
        handover: Future[BronzeBatch] = Future()
        self._last = pool.submit(self._step, lake, engine, handover, self._last)
        self._ahead = (self._last, handover)

    def _collect(self) -> BronzeBatch | None:
        """The next batch: its rows as soon as the step has them, else what the step returned."""
        assert self._ahead is not None  # noqa: S101 - type narrowing
        (step, handover), self._ahead = self._ahead, None
        futures: list[Future[Any]] = [step, handover]
        wait(futures, return_when=FIRST_COMPLETED)
        if handover.done():
            return replace(handover.result(), commit=step)
        return step.result()  # its failure (a transient outage, say) is this step's failure

    def _settle(self) -> None:
        """A stop (or a failure downstream) waits for the step in flight: it either commits whole
        or leaves its batch pending in the checkpoint, which the next run recovers."""
        if self._ahead is not None:
            step, self._ahead = self._ahead[0], None
            try:
                step.result()
            except Exception as exc:  # noqa: BLE001 - the batch stays pending; the next run redoes it
                log.warning("bronze step ahead did not complete (%s); its batch stays pending", exc)
        if self._worker is not None:
            pool, _, engine = self._worker
            self._worker, self._last = None, None
            pool.shutdown()
            engine.close()

    def _recover(self, lake: Lake) -> None:
        committed = lake.txn_version(BRONZE_EVENTS, APP_ID)
        pending = self.checkpoint.pending
        if pending is not None and committed >= pending.batch_id:
            log.info("bronze batch %d was committed before a stop; marking it done", pending.batch_id)
            self.checkpoint.commit()
        elif pending is not None and next_bronze_batch(lake) > pending.batch_id:
            # Another source committed that id after our stop: same segments under a new id.
            self.checkpoint.plan(next_bronze_batch(lake, after=committed), pending.segments)
        elif pending is None and self.checkpoint.batch_id < committed:
            log.warning("checkpoint %s is behind bronze; rebuilding it from the table", self.checkpoint.path)
            self.checkpoint.reset_to(committed, files_in_bronze(lake, [s.name for s in self.landing.segments()]))

    def _plan_next(self, lake: Lake) -> PendingBatch | None:
        chosen = self._choose()
        if not chosen:
            return None
        return self.checkpoint.plan(next_bronze_batch(lake, after=self.checkpoint.batch_id), chosen)

    def _choose(self) -> list[str]:
        chosen: list[str] = []
        size = 0
        for segment in pending_segments(self.landing, self.checkpoint):
            if chosen and size >= self.max_batch_bytes:
                break
            chosen.append(segment.name)
            size += segment.path.stat().st_size
        return chosen

    def _ingest(self, pending: PendingBatch, lake: Lake, engine: EngineAdapter,
                handover: Future[BronzeBatch] | None) -> BronzeBatch:
        clock = time.perf_counter()
        rows = bronze_rows(engine, self._read(tuple(pending.segments), pending.batch_id))
        if handover is not None:
            handover.set_result(BronzeBatch(pending.batch_id, tuple(pending.segments), rows.num_rows, True, rows))
        written = append_bronze(lake, rows, APP_ID, pending.batch_id, {"salesflow.source": SOURCE})
        self.checkpoint.commit()
        seconds = time.perf_counter() - clock
        log.info("bronze batch %d: %d records from %d segments in %.2f s (%.0f records/s)", pending.batch_id,
                 rows.num_rows, len(pending.segments), seconds, rows.num_rows / max(seconds, 1e-9))
        return BronzeBatch(pending.batch_id, tuple(pending.segments), rows.num_rows, written,
                           rows if written else None, seconds)

    def _read(self, segments: tuple[str, ...], batch_id: int) -> pa.Table:
        """The records of ``segments``, numbered in order. Segments are split and decoded on two
        threads (the work is NumPy and Arrow kernels, which let go of the GIL): the first batch
        of a run has no other work beside it, and it took 0.6 s on one core for 550,000 records."""
        found = []
        for name in segments:
            path = self.landing.root / name
            if not path.exists():
                raise CheckpointError(f"planned segment {path} is gone; the landing log must be immutable")
            found.append(Segment(path))
        with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="segment-read") as pool:
            lines = list(pool.map(Segment.read_array, found))
            first_seqs = np.cumsum([0] + [len(array) for array in lines[:-1]]).tolist()
            return pa.concat_tables(pool.map(partial(_segment_table, batch_id=batch_id), found, lines, first_seqs))


def _segment_table(segment: Segment, lines: pa.Array, first_seq: int, batch_id: int) -> pa.Table:
    produced = int(segment.path.stat().st_mtime * 1_000_000)  # landing: the segment's publish time
    return segment_records(segment, lines, produced, batch_id, first_seq)


def segment_records(segment: Segment, lines: pa.Array, produced_us: int, batch_id: int,
                    first_seq: int) -> pa.Table:
    """Bronze input rows of one landing segment (also built by the Spark job from file contents)."""
    line_numbers = pc.cast(pa.array(np.arange(1, len(lines) + 1)), pa.string())
    return bronze_input(lines, segment.source, segment.name, pc.binary_join_element_wise(segment.name, line_numbers, ":"),
                        first_seq, batch_id, pa.scalar(produced_us, pa.timestamp("us", "UTC")))


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


def decode_lines(lines: pa.Array | list[bytes]) -> tuple[pa.Array | pa.ChunkedArray, pa.Array]:
    """UTF-8 text of each line. Invalid bytes become U+FFFD and the row is flagged (quarantined).

    Only lines holding a non-ASCII byte can be invalid, so only those are decoded one by one.
    The text keeps the lines' buffer: slices of it between the replaced lines, as one chunked
    array (replacing in place would copy every line of the batch to change a few)."""
    raw = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.binary())
    try:
        return raw.cast(pa.string()), pa.repeat(True, len(raw))
    except pa.ArrowInvalid:
        pass
    invalid = np.zeros(len(raw), dtype=bool)
    text = pc.cast(raw, options=pc.CastOptions(pa.string(), allow_invalid_utf8=True))
    pieces, start = [], 0
    for i in _non_ascii_rows(raw):
        line = raw[i].as_py()
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid[i] = True
            pieces += [text.slice(start, i - start), pa.array([line.decode("utf-8", errors="replace")], pa.string())]
            start = i + 1
    pieces.append(text.slice(start))
    return pa.chunked_array(pieces, pa.string()), pc.invert(pa.array(invalid))


def _non_ascii_rows(raw: pa.Array) -> np.ndarray:
    """Row numbers of the lines with a byte >= 0x80, found over the array's data buffer at once."""
    offsets_buffer, data_buffer = raw.buffers()[1:3]
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[raw.offset: raw.offset + len(raw) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    high = np.flatnonzero(data[offsets[0]: offsets[-1]] >= 0x80) + offsets[0]
    return np.unique(np.searchsorted(offsets, high, side="right") - 1)


def files_in_bronze(lake: Lake, names: list[str]) -> set[str]:
    """Which of these landing segment names Bronze already holds (its ``source_file`` column)."""
    return set(lake.distinct((BRONZE_EVENTS,), "source_file", ds.field("source_file").isin(names)))


def next_bronze_batch(lake: Lake, after: int = -1) -> int:
    """The next batch id: past both ``after`` (a source's own last batch) and every id in Bronze.

    Batch ids are global across sources because Silver slices Bronze by batch id. The highest is
    read from the Delta log's per-file statistics, so it costs no data scan.
    """
    table = lake.table(BRONZE_EVENTS)
    stats = None if table is None else pa.table(table.get_add_actions(flatten=True))
    highest = -1 if stats is None or stats.num_rows == 0 else int(pc.max(stats["max.batch_id"]).as_py())
    return max(after, highest) + 1


def write_bronze(lake: Lake, engine: EngineAdapter, records: pa.Table, app_id: str, batch_id: int,
                 metadata: dict[str, str], txn_version: int | None = None) -> tuple[pa.Table, bool]:
    """Step 2 of every source's protocol: the bronze.events model over the records, appended once
    per (app_id, txn_version); the version is the batch id unless the source counts its own."""
    rows = bronze_rows(engine, records)
    return rows, append_bronze(lake, rows, app_id, batch_id, metadata, txn_version)


def bronze_rows(engine: EngineAdapter, records: pa.Table) -> pa.Table:
    """The Bronze rows of a source's records: the bronze.events model beside the records as received."""
    engine.register("landing_records", records)
    return as_received(records, engine.run(load_model("bronze.events"), ingested_at=datetime.now(UTC)))


def append_bronze(lake: Lake, rows: pa.Table, app_id: str, batch_id: int, metadata: dict[str, str],
                  txn_version: int | None = None) -> bool:
    """Append Bronze rows once per (app_id, txn_version); False when that commit already exists."""
    return lake.append(BRONZE_EVENTS, rows, app_id=app_id, version=batch_id if txn_version is None else txn_version,
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


def pending_segments(landing: LandingLog, checkpoint: SourceCheckpoint) -> list[Segment]:
    return [s for s in landing.segments() if s.name not in checkpoint.segments]
