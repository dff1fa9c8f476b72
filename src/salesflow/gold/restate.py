"""Restating Gold when reference data changes what it shows: Gold files each product's sales under
the product's category as the catalogue had it when the day was folded, so a catalogue that sets
or changes categories rebuilds the days those products were seen on (from Silver, as a backfill
would), rather than leaving them under ``unknown`` until someone runs one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.engine.base import EngineAdapter
from salesflow.gold.aggregate import GoldBuilder
from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_CART_ADDS, SILVER_ORDER_LINES, SILVER_PRODUCT_VIEWS
from salesflow.quality.gate import QualityGate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Restatement:
    products: int = 0
    """Products whose category was set or changed and that Gold has seen."""
    days: list[date] = field(default_factory=list)
    """Gold days rebuilt."""

    def describe(self) -> str:
        if not self.days:
            return "no Gold day needed restating"
        return (f"restated {len(self.days)} Gold day(s) ({self.days[0]}..{self.days[-1]}) for {self.products} "
                f"product(s) whose category changed")


def restate_categories(lake: Lake, engine: EngineAdapter, gate: QualityGate | None,
                       products: tuple[str, ...]) -> Restatement:
    """Rebuild the Gold days on which any of ``products`` (recategorised) were viewed, carted or sold."""
    gold = GoldBuilder(lake, engine, gate)
    done = gold.committed()
    if not products or done < 0:
        return Restatement()
    keep = ds.field("product_id").isin(list(products)) & (ds.field("batch_id") <= done)
    days: set[date] = set()
    seen: set[str] = set()
    for spec in (SILVER_ORDER_LINES, SILVER_PRODUCT_VIEWS, SILVER_CART_ADDS):  # one scan each, both columns
        rows = lake.read(spec, columns=["event_date", "product_id"], filter=keep)
        if rows is not None:
            days |= {d for d in pc.unique(rows["event_date"]).to_pylist() if d is not None}
            seen |= {p for p in pc.unique(rows["product_id"]).to_pylist() if p is not None}
    if not days:
        return Restatement()
    gold.rebuild(tuple(sorted(days)))
    restated = Restatement(len(seen), sorted(days))
    log.info("%s", restated.describe())
    return restated
