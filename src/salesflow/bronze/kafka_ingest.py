"""Kafka offset ranges -> ``bronze.events``, exactly once, with the same protocol as the landing log.

Step 1. Plan: record ``pending = {batch_id, start, end}`` (offsets per partition) in the checkpoint.
Step 2. Read exactly [start, end) and append to Bronze with the Delta transaction (app, batch_id).
Step 3. Commit the checkpoint, then commit the offsets to the consumer group (monitoring only).
A restart redoes a pending batch from the same offsets; the table's transaction version says
whether Step 2 already happened. A lost checkpoint is rebuilt from Bronze's ``source_position``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.bronze.ahead import IngestAhead
from salesflow.bronze.lock import bronze_lock
from salesflow.bronze.oversized import PayloadLimit
from salesflow.bronze.rows import BronzeBatch, append_bronze, bronze_input, bronze_rows, next_bronze_batch
from salesflow.common.files import atomic_write
from salesflow.common.parts import part
from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.sources.kafka import KafkaReader, Message

log = logging.getLogger(__name__)
SOURCE = "kafka"


def kafka_app_id(topic: str) -> str:
    return f"salesflow.bronze.kafka.{topic}"


@dataclass
class OffsetCheckpoint:
    path: Path
    batch_id: int = -1
    offsets: dict[int, int] = field(default_factory=dict)
    """Next offset to read, per partition."""
    pending: dict[str, object] | None = None

    @classmethod
    def load(cls, path: Path) -> OffsetCheckpoint:
        if not path.exists():
            return cls(path)
        state = json.loads(path.read_text())
        return cls(path, state["batch_id"], {int(k): v for k, v in state["offsets"].items()}, state["pending"])

    def plan(self, batch_id: int, start: dict[int, int], end: dict[int, int]) -> None:
        self.pending = {"batch_id": batch_id, "start": start, "end": end}
        self.save()

    def commit(self) -> None:
        assert self.pending is not None  # noqa: S101 - type narrowing
        self.batch_id = int(self.pending["batch_id"])  # type: ignore[call-overload]
        self.offsets.update({int(p): int(o) for p, o in self.pending["end"].items()})  # type: ignore[attr-defined]
        self.pending = None
        self.save()

    def save(self) -> None:
        state = {"batch_id": self.batch_id, "offsets": self.offsets, "pending": self.pending}
        atomic_write(self.path, json.dumps(state, indent=1).encode())


class KafkaIngestor:
    def __init__(self, lake: Lake, engine: EngineAdapter, reader: KafkaReader, checkpoint: OffsetCheckpoint,
                 max_records: int, limit: PayloadLimit) -> None:
        self.lake, self.engine, self.reader, self.checkpoint = lake, engine, reader, checkpoint
        self.max_records, self.limit = max_records, limit
        self.app_id = kafka_app_id(reader.config.topic)
        self.ahead: IngestAhead | None = None
        self._recovered = False

    def batches(self) -> Iterator[BronzeBatch]:
        """A pending batch first, then new messages until the topic is idle. Steps run a batch
        ahead on a worker thread (``IngestAhead``): the next batch is polled and written to Bronze
        while one goes through Silver and Gold, which is what a stream's freshness waits on."""
        self._recovered = False
        self.ahead = IngestAhead(self.lake, self.engine, self._step)
        return self.ahead.batches()

    def _step(self, lake: Lake, engine: EngineAdapter, handover: Future[BronzeBatch] | None) -> BronzeBatch | None:
        if not self._recovered:
            self._recovered = True
            with bronze_lock(self.checkpoint.path.parent):
                self._recover(lake)
                if self.checkpoint.pending is not None:
                    return self._ingest(self.reader.read(*self._pending_range()), lake, engine, handover)
        ahead = self.ahead
        assert ahead is not None  # noqa: S101 - batches() made it before the first step
        ahead_of_silver = handover is not None  # on the worker: gather until Silver wants the batch
        messages = self.reader.poll_from(self.checkpoint.offsets, self.max_records, abort=ahead.closing.is_set,
                                         hold=lambda: ahead_of_silver and not ahead.wanted.is_set())
        if not messages or ahead.closing.is_set():
            return None  # on a stop, messages not yet planned are left for the next run
        with bronze_lock(self.checkpoint.path.parent):
            self._plan(messages, lake)
            return self._ingest(messages, lake, engine, handover)

    def _recover(self, lake: Lake) -> None:
        committed = lake.txn_version(BRONZE_EVENTS, self.app_id)
        pending = self.checkpoint.pending
        if pending is not None and committed >= int(pending["batch_id"]):  # type: ignore[call-overload]
            self.checkpoint.commit()
        elif pending is not None and self._next_batch_id(lake) > int(pending["batch_id"]):  # type: ignore[call-overload]
            # Another source committed that id after our stop: same offsets under a new id.
            self.checkpoint.plan(self._next_batch_id(lake), *self._pending_range())
        elif pending is None and self.checkpoint.batch_id < committed:
            log.warning("kafka checkpoint %s is behind bronze; rebuilding offsets from the table", self.checkpoint.path)
            self.checkpoint.batch_id, self.checkpoint.offsets = committed, self._offsets_in_bronze(lake)
            self.checkpoint.save()

    def _next_batch_id(self, lake: Lake) -> int:
        return next_bronze_batch(lake, after=self.checkpoint.batch_id)

    def _offsets_in_bronze(self, lake: Lake) -> dict[int, int]:
        topic = self.reader.config.topic
        keep = (ds.field("source") == SOURCE) & (ds.field("source_file") == topic)
        table = lake.read(BRONZE_EVENTS, columns=["source_position"], filter=keep)
        offsets: dict[int, int] = {}
        for position in [] if table is None else table["source_position"].to_pylist():
            partition, offset = (int(x) for x in position.rsplit("-", 2)[1:])
            offsets[partition] = max(offsets.get(partition, 0), offset + 1)
        return offsets

    def _plan(self, messages: list[Message], lake: Lake) -> None:
        """Step 1: name the exact offsets of this batch before writing anything."""
        start = {p: self.checkpoint.offsets.get(p, 0) for p in {m.partition for m in messages}}
        end = dict(start)
        for m in messages:
            end[m.partition] = max(end[m.partition], m.offset + 1)
        self.checkpoint.plan(self._next_batch_id(lake), start, end)

    def _pending_range(self) -> tuple[dict[int, int], dict[int, int]]:
        pending = self.checkpoint.pending
        assert pending is not None  # noqa: S101 - type narrowing
        start = {int(p): int(o) for p, o in pending["start"].items()}  # type: ignore[attr-defined]
        end = {int(p): int(o) for p, o in pending["end"].items()}  # type: ignore[attr-defined]
        return start, end

    def _ingest(self, messages: list[Message], lake: Lake, engine: EngineAdapter,
                handover: Future[BronzeBatch] | None) -> BronzeBatch:
        clock = time.perf_counter()
        pending = self.checkpoint.pending
        assert pending is not None  # noqa: S101 - type narrowing
        batch_id = int(pending["batch_id"])  # type: ignore[call-overload]
        end = self._pending_range()[1]
        topic = self.reader.config.topic
        with part("bronze read"):
            records = _records(messages, topic, batch_id)
            rows = bronze_rows(engine, records, self.limit)
        if handover is not None and rows is not None:  # Silver computes while the commit is written
            handover.set_result(BronzeBatch(batch_id, (topic,), records.num_rows, True, rows))
        with part("bronze write"):
            written = append_bronze(lake, engine, rows, self.app_id, batch_id,
                                    {"salesflow.source": SOURCE, "salesflow.offsets": json.dumps(end)})
            self.checkpoint.commit()
        self.reader.commit(end)
        seconds = time.perf_counter() - clock
        log.info("bronze batch %d: %d kafka messages in %.2f s", batch_id, records.num_rows, seconds)
        return BronzeBatch(batch_id, (topic,), records.num_rows, written, rows if written else None, seconds)


def _records(messages: list[Message], topic: str, batch_id: int) -> pa.Table:
    # Arrival order across partitions is approximated by produce time, so lateness is judged fairly.
    partition = np.fromiter((m.partition for m in messages), np.int64, len(messages))
    offset = np.fromiter((m.offset for m in messages), np.int64, len(messages))
    produced = np.fromiter((m.timestamp_ms for m in messages), np.int64, len(messages))
    order = np.lexsort((offset, partition, produced))
    position = pc.binary_join_element_wise(f"{topic}-", pc.cast(pa.array(partition[order]), pa.string()), "-",
                                           pc.cast(pa.array(offset[order]), pa.string()), "")
    return bronze_input(pa.array([m.value for m in messages], pa.binary()).take(order), SOURCE, topic, position,
                        0, batch_id, pa.array(produced[order] * 1000, pa.timestamp("us", "UTC")))
