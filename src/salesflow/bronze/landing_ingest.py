"""Land new landing-log segments in Bronze, one Delta commit per batch, exactly once."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import numpy as np
import pyarrow as pa

from salesflow.bronze.ahead import IngestAhead
from salesflow.bronze.landing_tasks import keep_landing_records
from salesflow.bronze.lock import bronze_lock
from salesflow.bronze.oversized import PayloadLimit
from salesflow.bronze.rows import (
    BronzeBatch,
    append_bronze,
    bronze_rows,
    files_in_bronze,
    next_bronze_batch,
    segment_table,
)
from salesflow.common.parts import part
from salesflow.engine.base import EngineAdapter
from salesflow.errors import CheckpointError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.sources.checkpoint import PendingBatch, SourceCheckpoint
from salesflow.sources.landing import LandingLog, Segment

log = logging.getLogger(__name__)
SOURCE = "landing"
APP_ID = "salesflow.bronze.landing"
READ_THREADS = 2
"""Threads that split and decode a batch's landing segments."""


class LandingIngestor:
    """Moves landing segments into ``bronze.events`` following the checkpoint protocol."""

    def __init__(self, lake: Lake, engine: EngineAdapter, landing: LandingLog,
                 checkpoint: SourceCheckpoint, max_batch_bytes: int, limit: PayloadLimit) -> None:
        self.lake, self.engine, self.landing = lake, engine, landing
        self.checkpoint, self.max_batch_bytes, self.limit = checkpoint, max_batch_bytes, limit
        self.ahead: IngestAhead | None = None

    def batches(self) -> Iterator[BronzeBatch]:
        """Ingest everything new: first a batch left pending by a crash, then new segments.

        Steps run a batch ahead on a worker thread (``IngestAhead``), so the next batch is
        ingested while one goes through Silver and Gold: Bronze is about a quarter of a batch's
        CPU, much of it single-threaded (reading, Parquet encoding)."""
        self.ahead = IngestAhead(self.lake, self.engine, self._step)
        return self.ahead.batches()

    def _step(self, lake: Lake, engine: EngineAdapter, handover: Future[BronzeBatch] | None) -> BronzeBatch | None:
        with bronze_lock(self.checkpoint.path.parent):
            self._recover(lake)
            planned = self.checkpoint.pending or self._plan_next(lake)
            return None if planned is None else self._ingest(planned, lake, engine, handover)

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
        segments = self._segments(pending.segments)
        with part("bronze read"):
            if engine.KEEPS_RESULTS_IN_PROCESS:
                records = self._read(segments, pending.batch_id)
                count, rows = records.num_rows, bronze_rows(engine, records, self.limit)
            else:  # the engine's workers read and split the files (Spark's executors); counts come here
                files = [(s.path.resolve().as_uri(), int(s.path.stat().st_mtime * 1_000_000)) for s in segments]
                count, rows = keep_landing_records(engine, files, pending.batch_id, self.limit), None
        if handover is not None and rows is not None:  # rows kept by the engine are read back once committed
            handover.set_result(BronzeBatch(pending.batch_id, tuple(pending.segments), count, True, rows))
        with part("bronze write"):
            written = append_bronze(lake, engine, rows, APP_ID, pending.batch_id, {"salesflow.source": SOURCE})
            self.checkpoint.commit()
        seconds = time.perf_counter() - clock
        log.info("bronze batch %d: %d records from %d segments in %.2f s (%.0f records/s)", pending.batch_id,
                 count, len(pending.segments), seconds, count / max(seconds, 1e-9))
        return BronzeBatch(pending.batch_id, tuple(pending.segments), count, written,
                           rows if written else None, seconds)

    def _segments(self, names: list[str]) -> list[Segment]:
        found = [Segment(self.landing.root / name) for name in names]
        for segment in found:
            if not segment.path.exists():
                raise CheckpointError(f"planned segment {segment.path} is gone; the landing log must be immutable")
        return found

    def _read(self, segments: list[Segment], batch_id: int) -> pa.Table:
        """The records of ``segments``, numbered in order. Segments are split and decoded on two
        threads (the work is NumPy and Arrow kernels, which let go of the GIL): the first batch
        of a run has no other work beside it."""
        with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="segment-read") as pool:
            lines = list(pool.map(Segment.read_array, segments))
            first_seqs = np.cumsum([0] + [len(array) for array in lines[:-1]]).tolist()
            return pa.concat_tables(pool.map(partial(segment_table, batch_id=batch_id), segments, lines, first_seqs))


def pending_segments(landing: LandingLog, checkpoint: SourceCheckpoint) -> list[Segment]:
    return [s for s in landing.segments() if s.name not in checkpoint.segments]
