"""Quarantined records re-submitted after a fix (``salesflow quarantine release``).

A record is quarantined for a reason that a person may remove: a bound raised in the config, a
currency now reported, a batch that failed on a bug since fixed (``processing_error``). Releasing
appends the chosen quarantine rows' original payloads to Bronze as new records (source
``release``, position ``quarantine:<batch>:<record_seq>`` of the row released), and they go
through Silver's rules again like any record: accepted now, or quarantined again with the reason
that still holds. Every Bronze record still ends in exactly one place; the released row stays in
the quarantine as history, and its release is the Bronze row naming it.

Each row is released once: the positions already in Bronze are looked up under the Bronze lock,
and the append carries the application transaction ``(salesflow.bronze.release, batch)``. A
record kept by reference (``payload_too_large``) is released from its full bytes when
``pipeline.keep_oversized_payloads`` kept them, and otherwise counted as not releasable.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.bronze.lock import bronze_lock
from salesflow.bronze.oversized import REASON as OVERSIZED
from salesflow.bronze.oversized import payload_limit
from salesflow.bronze.rows import BronzeBatch, bronze_input, next_bronze_batch, write_bronze
from salesflow.config import Settings
from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS, QUARANTINE

log = logging.getLogger(__name__)
APP_ID = "salesflow.bronze.release"
SOURCE = "release"


@dataclass
class QuarantineRelease:
    """A Bronze source: the chosen quarantine rows not released before, as one batch."""

    lake: Lake
    engine: EngineAdapter
    settings: Settings
    reasons: tuple[str, ...] = ()
    batch_ids: tuple[int, ...] = ()
    dry_run: bool = False
    chosen: int = 0
    released: int = 0
    already: int = 0
    not_releasable: int = 0
    batch_id: int | None = None
    samples: list[str] = field(default_factory=list)

    def batches(self) -> Iterator[BronzeBatch]:
        clock = time.perf_counter()
        with bronze_lock(self.settings.checkpoint_dir):
            rows = self._chosen()
            if rows is None or rows.num_rows == 0:
                return
            positions = pc.binary_join_element_wise(
                "quarantine", pc.cast(rows["batch_id"], pa.string()), pc.cast(rows["record_seq"], pa.string()), ":")
            done = self._released(positions)
            keep = pc.invert(pc.is_in(positions, pa.array(sorted(done), pa.string())))
            self.already = rows.num_rows - int(pc.sum(keep).as_py() or 0)
            rows, positions = rows.filter(keep), positions.filter(keep)
            payloads, ok = self._payloads(rows)
            self.not_releasable = len(ok) - sum(ok)
            mask = pa.array(ok, pa.bool_())
            payloads, positions = pa.array(payloads, pa.string()).filter(mask), positions.filter(mask)
            self.samples = positions.to_pylist()[:5]
            if self.dry_run or len(payloads) == 0:
                self.released = len(payloads)
                return
            batch_id = next_bronze_batch(self.lake, after=self.lake.txn_version(BRONZE_EVENTS, APP_ID))
            records = bronze_input(pc.cast(payloads, pa.binary()), SOURCE, "quarantine", positions, 0, batch_id,
                                   pa.scalar(datetime.now(UTC), pa.timestamp("us", "UTC")))
            _, written = write_bronze(self.lake, self.engine, records, APP_ID, batch_id,
                                      {"salesflow.source": SOURCE}, payload_limit(self.settings))
        self.released, self.batch_id = records.num_rows, batch_id
        log.info("released %d quarantined record(s) into bronze batch %d", records.num_rows, batch_id)
        yield BronzeBatch(batch_id, ("quarantine",), records.num_rows, written, None, time.perf_counter() - clock)

    def _chosen(self) -> pa.Table | None:
        where = None
        if self.reasons:
            where = ds.field("reason").isin(list(self.reasons))
        if self.batch_ids:
            in_batches = ds.field("batch_id").isin(list(self.batch_ids))
            where = in_batches if where is None else where & in_batches
        rows = self.lake.read(QUARANTINE, columns=["batch_id", "record_seq", "reason", "payload"], filter=where)
        self.chosen = 0 if rows is None else rows.num_rows
        return rows

    def _released(self, positions: pa.Array) -> set[str]:
        # Filtered on source only: source_position has no file statistics, and delta-rs's dataset
        # would then prune every file for a predicate on it.
        released = self.lake.distinct((BRONZE_EVENTS,), "source_position", ds.field("source") == SOURCE)
        return set(released) & set(positions.to_pylist())

    def _payloads(self, rows: pa.Table) -> tuple[list[str | None], list[bool]]:
        """Each row's original text; a record kept by reference comes from its kept bytes."""
        payloads: list[str | None] = []
        for reason, payload in zip(rows["reason"].to_pylist(), rows["payload"].to_pylist(), strict=True):
            if reason == OVERSIZED:
                payload = _kept(payload)
            payloads.append(payload)
        return payloads, [p is not None for p in payloads]


def _kept(reference: str | None) -> str | None:
    try:
        kept_at = json.loads(reference or "")["oversized_payload"]["kept_at"]
        return Path(kept_at).read_bytes().decode() if kept_at else None
    except (ValueError, KeyError, TypeError, OSError):
        return None  # an older Bronze row (the whole text was not kept by reference) or a lost file
