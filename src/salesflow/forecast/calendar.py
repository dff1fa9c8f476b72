"""Calendar honesty: days the data says nothing about are not days of zero demand.

A *closure* is a day inside the history on which the whole shop sold nothing (a holiday, an
outage, a stocktake): no product's demand was zero that day, there was no market, so targets on
closures are neither trained on nor scored. A *partial last day* is a last day the data cuts
short (its newest sale earlier in the day than on each of the 28 days before it, the rule of the
warehouse's v_day_coverage): its low total is a load that stopped, not a slump, so the history
ends the day before it. Both are reported with every evaluation and training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_ORDERS

USUAL_DAYS = 28


@dataclass(frozen=True)
class Calendar:
    last_day: date
    """The last day of history used: the data's last day, or the one before a partial last day."""
    closures: list[date] = field(default_factory=list)
    partial_day: date | None = None

    def describe(self) -> str:
        parts = [f"closed days (no sale in the whole shop, not scored): {', '.join(map(str, self.closures))}"
                 if self.closures else "no closed days"]
        if self.partial_day is not None:
            parts.append(f"the last day {self.partial_day} is partial and left out")
        return "; ".join(parts)


def read_calendar(lake: Lake, daily: pa.Table, timezone: str = "UTC") -> Calendar:
    """From the whole shop's gold.daily_sales (before any product selection) and Silver's order times;
    ``timezone``: the reporting zone, whose days ``event_date`` counts."""
    sold = set(pc.unique(daily["event_date"]).to_pylist())
    first, last = min(sold), max(sold)
    closures = [first + timedelta(days=n) for n in range((last - first).days + 1)
                if first + timedelta(days=n) not in sold]
    partial = last if _cut_short(lake, last, timezone) else None
    return Calendar(last - timedelta(days=1) if partial else last, closures, partial)


def _cut_short(lake: Lake, last: date, timezone: str) -> bool:
    since = last - timedelta(days=USUAL_DAYS)
    times = lake.read(SILVER_ORDERS, columns=["event_date", "event_time"],
                      filter=(ds.field("event_date") >= since) & (ds.field("event_date") <= last))
    if times is None or times.num_rows == 0:
        return False
    # The wall-clock time in the reporting zone, as microseconds: the time of day is what is left
    # after whole days (integer division below).
    local = pc.local_timestamp(times["event_time"].cast(pa.timestamp("us", timezone)))
    micros = pc.cast(local, pa.int64())
    of_day = pc.divide(pc.subtract(micros, pc.multiply(pc.divide(micros, 86_400_000_000), 86_400_000_000)),
                       1_000_000)
    per_day = pa.table({"day": times["event_date"], "second": of_day}).group_by("day").aggregate([("second", "max")])
    newest = dict(zip(per_day["day"].to_pylist(), per_day["second_max"].to_pylist(), strict=True))
    before = [second for day, second in newest.items() if day < last]
    return bool(before) and last in newest and newest[last] < min(before)
