"""Silver's dedupe state: the keys and event times of batches before the one being processed.

The state of batch k is the Silver rows of batches < k dated from ``first_day`` (the oldest
event of batch k less the dedupe horizon and a day) on. It is read from Silver when needed and
then kept between micro-batches: after batch k is written its own rows are added, so batch k+1
does not read back what this process has just written. The kept state is used only when it is
exactly what a read would return: nothing else committed a Silver batch since (``below``) and
it reaches back far enough (``from_day``). Otherwise it is read again, so a restart, a second
writer or a batch with an unusually old event all fall back to the read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_CART_ADDS, SILVER_ORDERS, SILVER_PRODUCT_VIEWS, TableSpec

_TIME = ("event_time", pa.timestamp("us", "UTC"))
_DATE = ("event_date", pa.date32())
SEEN_SCHEMA = {
    SILVER_ORDERS: pa.schema([("event_id", pa.string()), ("order_id", pa.string()), _TIME, _DATE]),
    SILVER_PRODUCT_VIEWS: pa.schema([("event_id", pa.string()), _TIME, _DATE]),
    SILVER_CART_ADDS: pa.schema([("event_id", pa.string()), _TIME, _DATE]),
}


@dataclass
class _Kept:
    below: int
    """Holds every batch < below."""
    from_day: date
    """Complete for event_date >= from_day."""
    tables: dict[TableSpec, pa.Table]


class SeenState:
    def __init__(self, lake: Lake, horizon_hours: float) -> None:
        self.lake, self.horizon = lake, timedelta(hours=horizon_hours)
        self._kept: _Kept | None = None
        self.reads = 0
        """How often the state was read from Silver (the rest came from memory)."""

    def first_day(self, oldest: date | None) -> date | None:
        return None if oldest is None else oldest - self.horizon - timedelta(days=1)

    def for_batch(self, batch_id: int, oldest: date | None, committed: Callable[[], int],
                  keep: bool) -> dict[TableSpec, pa.Table]:
        """The state of ``batch_id`` (``committed``: the last batch every Silver table holds).
        ``keep``: remember it, to add the batch's rows once they are written."""
        first_day = self.first_day(oldest)
        kept = self._kept
        if kept is not None and first_day is not None and kept.below <= batch_id \
                and first_day >= kept.from_day and committed() < kept.below:
            tables = {spec: _since(t, first_day) for spec, t in kept.tables.items()}
        else:
            tables = self._read(batch_id, first_day)
        self._kept = _Kept(batch_id, first_day, tables) if keep and first_day is not None else None
        return tables

    def add(self, batch_id: int, written: dict[TableSpec, pa.Table]) -> None:
        """Batch ``batch_id`` is committed in every Silver table: its rows join the kept state."""
        kept = self._kept
        if kept is None or kept.below != batch_id:
            self._kept = None
            return
        for spec, schema in SEEN_SCHEMA.items():
            mine = _since(written[spec].select(schema.names).cast(schema), kept.from_day)
            kept.tables[spec] = pa.concat_tables([kept.tables[spec], mine])
        kept.below = batch_id + 1

    def forget(self) -> None:
        self._kept = None

    def _read(self, batch_id: int, first_day: date | None) -> dict[TableSpec, pa.Table]:
        self.reads += 1
        keep = ds.field("batch_id") < batch_id
        prune = f"batch_id < {batch_id}"
        if first_day is not None:  # partition pruning keeps the read bounded however long the stream runs
            keep = keep & (ds.field("event_date") >= first_day)
            prune += f" AND event_date >= '{first_day.isoformat()}'"
        out = {}
        for spec, schema in SEEN_SCHEMA.items():
            seen = self.lake.read(spec, columns=schema.names, filter=keep, prune=prune)
            out[spec] = seen.cast(schema) if seen is not None else schema.empty_table()
        return out


def _since(table: pa.Table, first_day: date) -> pa.Table:
    return table.filter(pc.greater_equal(table["event_date"], pa.scalar(first_day, pa.date32())))
