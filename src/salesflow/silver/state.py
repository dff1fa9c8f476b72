"""Silver's dedupe state: the keys and event times of batches before the one being processed.

The state of batch k is the Silver rows of batches < k dated from ``first_day`` (the oldest
event of batch k less the dedupe horizon and a day) on. It is read from Silver when needed and
then kept between micro-batches: after batch k is written its own rows are added, so batch k+1
does not read back what this process has just written. The kept state is used only when it is
exactly what a read would return: the three tables are at the versions our own writes left
(nothing else committed to them: another writer, a replay, a compaction) and it reaches back far
enough (``from_day``). Otherwise it is read again, so a restart, a second writer or a batch with
an unusually old event all fall back to the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_CART_ADDS, SILVER_ORDERS, SILVER_PRODUCT_VIEWS, TableSpec

SILVER_APP = "salesflow.silver"
"""Application id of Silver's Delta transactions (its marker: the last Bronze batch it committed)."""

_TIME = ("event_time", pa.timestamp("us", "UTC"))
_DATE = ("event_date", pa.date32())
_BATCH = ("batch_id", pa.int64())
# Keys, times, the batch that accepted them, and the money a re-used order id is compared on
# (conflicting_duplicate); an event id is compared on its time too.
SEEN_SCHEMA = {
    SILVER_ORDERS: pa.schema([("event_id", pa.string()), ("order_id", pa.string()), _TIME, _DATE, _BATCH,
                              ("total_amount", pa.decimal128(18, 2)), ("currency", pa.string())]),
    SILVER_PRODUCT_VIEWS: pa.schema([("event_id", pa.string()), _TIME, _DATE, _BATCH]),
    SILVER_CART_ADDS: pa.schema([("event_id", pa.string()), _TIME, _DATE, _BATCH]),
}


@dataclass
class _Kept:
    below: int
    """Holds every batch < below."""
    from_day: date
    """Complete for event_date >= from_day."""
    tables: dict[TableSpec, pa.Table]
    versions: dict[TableSpec, int | None]
    """The tables' Delta versions when the state was taken or last grown."""


class SeenState:
    def __init__(self, lake: Lake, horizon_hours: float) -> None:
        self.lake, self.horizon = lake, timedelta(hours=horizon_hours)
        self._kept: _Kept | None = None
        self.reads = 0
        """How often the state was read from Silver (the rest came from memory)."""

    def first_day(self, oldest: date | None) -> date | None:
        return None if oldest is None else oldest - self.horizon - timedelta(days=1)

    def register(self, engine: EngineAdapter, batch_id: int, oldest: date | None, keep: bool) -> None:
        """The state of ``batch_id`` as relations ``seen_<table>``: Silver rows from batches before
        this one, for the dedupe keys (silver.seen_keys cuts them to the batch's) and the watermark.
        Only days within the dedupe horizon of the batch's oldest event count, so the state stays
        bounded however long the stream runs; it depends only on the batch, so a replay after a
        crash sees the same state. An engine whose relations live in this process keeps it between
        batches (``for_batch``: a stream's micro-batches); any other reads it from Silver each
        time, so it never travels through this process."""
        if engine.KEEPS_RESULTS_IN_PROCESS:
            for spec, seen in self.for_batch(batch_id, oldest, keep).items():
                engine.register(f"seen_{spec.name}", seen)
            return
        self.reads += 1
        for spec, schema in SEEN_SCHEMA.items():  # every earlier key: uniqueness has no horizon
            engine.read_table(
                self.lake,
                spec,
                f"seen_{spec.name}",
                predicate=self._predicate(batch_id, None),
                columns=schema.names,
                empty=schema,
            )

    def for_batch(self, batch_id: int, oldest: date | None, keep: bool) -> dict[TableSpec, pa.Table]:
        """The state of ``batch_id``. ``keep``: remember it, to add the batch's rows once they are
        written (the processing path; a rebuild does not keep it)."""
        first_day = self.first_day(oldest)
        kept = self._kept
        if kept is not None and first_day is not None and kept.below <= batch_id \
                and first_day >= kept.from_day and kept.versions == self._versions():
            tables = {spec: _since(t, first_day) for spec, t in kept.tables.items()}
            versions = kept.versions
        else:
            versions = self._versions()  # before the read: a commit racing it then forces the next read
            tables = self._read(batch_id, first_day)
        self._kept = _Kept(batch_id, first_day, tables, versions) if keep and first_day is not None else None
        return tables

    def add(self, batch_id: int, written: dict[TableSpec, str], engine: EngineAdapter) -> None:
        """Batch ``batch_id`` is committed in every Silver table (``written``: its relations on
        ``engine``): its keys join the kept state."""
        kept = self._kept
        if kept is None or kept.below != batch_id or not engine.KEEPS_RESULTS_IN_PROCESS:
            self._kept = None
            return
        for spec, schema in SEEN_SCHEMA.items():
            mine = _since(engine.projection(written[spec], schema.names).cast(schema), kept.from_day)
            kept.tables[spec] = pa.concat_tables([kept.tables[spec], mine])
        kept.below, kept.versions = batch_id + 1, self._versions()

    @staticmethod
    def _predicate(batch_id: int, first_day: date | None) -> str:
        """Rows of earlier batches from ``first_day`` on: partition pruning keeps the read bounded
        however long the stream runs."""
        return f"batch_id < {batch_id}" + (f" AND event_date >= '{first_day.isoformat()}'" if first_day else "")

    def _versions(self) -> dict[TableSpec, int | None]:
        return {spec: self.lake.version(spec) for spec in SEEN_SCHEMA}

    def forget(self) -> None:
        self._kept = None

    def _read(self, batch_id: int, first_day: date | None) -> dict[TableSpec, pa.Table]:
        self.reads += 1
        keep = ds.field("batch_id") < batch_id
        prune = self._predicate(batch_id, first_day)
        if first_day is not None:
            keep = keep & (ds.field("event_date") >= first_day)
        out = {}
        for spec, schema in SEEN_SCHEMA.items():
            seen = self.lake.read(spec, columns=schema.names, filter=keep, prune=prune)
            out[spec] = seen.cast(schema) if seen is not None else schema.empty_table()
        return out


def _since(table: pa.Table, first_day: date) -> pa.Table:
    return table.filter(pc.greater_equal(table["event_date"], pa.scalar(first_day, pa.date32())))
