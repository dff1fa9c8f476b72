"""Whole-lake reconciliation: every Bronze record is in exactly one of silver, quarantine,
duplicates; and, where asked, Gold is not behind Silver and holds exactly Silver's revenue per day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.dataset as ds

from salesflow.gold.aggregate import gold_committed
from salesflow.lake.delta import Lake
from salesflow.lake.tables import (
    BRONZE_EVENTS,
    DUPLICATES,
    GOLD_DAILY_SALES,
    QUARANTINE,
    SILVER_EVENT_TABLES,
    SILVER_ORDER_LINES,
)
from salesflow.silver.process import silver_committed


@dataclass(frozen=True)
class Reconciliation:
    bronze: int
    silver_events: int
    quarantined: int
    duplicates: int
    silver_batch: int | None = None
    """Last Bronze batch Silver finished (with ``money``)."""
    gold_batch: int | None = None
    """Last Silver batch Gold finished (with ``money``)."""
    silver_revenue: Decimal | None = None
    gold_revenue: Decimal | None = None
    revenue_days_differing: list[dict[str, object]] = field(default_factory=list)
    """Days whose Gold revenue is not Silver's: date, silver, gold (at most ten shown)."""

    @property
    def accounted(self) -> int:
        return self.silver_events + self.quarantined + self.duplicates

    @property
    def gold_lag_batches(self) -> int:
        if self.silver_batch is None or self.gold_batch is None:
            return 0
        return max(0, self.silver_batch - self.gold_batch)

    @property
    def balanced(self) -> bool:
        return self.bronze == self.accounted and self.gold_lag_batches == 0 and not self.revenue_days_differing


def reconcile_lake(lake: Lake, up_to_batch: int | None = None, money: bool = False) -> Reconciliation:
    """Counts over the whole lake, or over batches up to ``up_to_batch`` (those Silver finished:
    a live stream always has one batch between layers). ``money``: also Gold's lag behind Silver
    and revenue per day, Gold against Silver's order lines (a record count cannot see an order
    folded into Gold twice, or a day Gold missed)."""
    counts = Reconciliation(
        bronze=lake.count_rows(BRONZE_EVENTS, up_to_batch),
        silver_events=sum(lake.count_rows(spec, up_to_batch) for spec in SILVER_EVENT_TABLES),
        quarantined=lake.count_rows(QUARANTINE, up_to_batch),
        duplicates=lake.count_rows(DUPLICATES, up_to_batch),
    )
    if not money:
        return counts
    silver_done, gold_done = silver_committed(lake), gold_committed(lake)
    keep = None if gold_done < 0 else ds.field("batch_id") <= gold_done
    silver = _revenue_by_day(lake.read(SILVER_ORDER_LINES, ["event_date", "revenue", "batch_id"], keep))
    gold = _revenue_by_day(lake.read(GOLD_DAILY_SALES, ["event_date", "revenue"]))
    zero = Decimal(0)
    differing: list[dict[str, object]] = [
        {"date": day.isoformat(), "silver": str(silver.get(day, zero)), "gold": str(gold.get(day, zero))}
        for day in sorted(set(silver) | set(gold)) if silver.get(day, zero) != gold.get(day, zero)]
    return Reconciliation(**{**vars(counts), "silver_batch": silver_done, "gold_batch": gold_done,
                             "silver_revenue": sum(silver.values(), Decimal(0)),
                             "gold_revenue": sum(gold.values(), Decimal(0)),
                             "revenue_days_differing": differing[:10]})


def _revenue_by_day(rows: pa.Table | None) -> dict[date, Decimal]:
    if rows is None or rows.num_rows == 0:
        return {}
    summed = rows.group_by("event_date").aggregate([("revenue", "sum")])
    return {d: v for d, v in zip(summed["event_date"].to_pylist(), summed["revenue_sum"].to_pylist(), strict=True)
            if v is not None}


def reconcile_finished(lake: Lake) -> Reconciliation:
    """Counts over the batches Silver has finished. A batch that another writer (a stream, a
    partner-file load) has put in Bronze since is in flight, not lost; the whole lake would count
    it in Bronze before Silver could have taken it."""
    return reconcile_lake(lake, up_to_batch=silver_committed(lake))
