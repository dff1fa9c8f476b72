"""Which products are forecast: a catalogue of tens of thousands is mostly a long tail, and a
user picks the part worth a model (a products file, enough history, the top N sellers).

The choice is made on gold.daily_sales before any feature is built, so memory and time follow
the selection, not the catalogue; it is recorded in the model's manifest and prediction uses the
trained products only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from salesflow.config.forecast import ForecastConfig
from salesflow.errors import ConfigError
from salesflow.forecast.backtest import ForecastError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_ORDER_LINES


@dataclass(frozen=True)
class Selection:
    products: int
    """Products forecast."""
    catalogue: int
    """Products with sales in gold.daily_sales."""
    rules: tuple[str, ...]
    level: str = "product"
    panel: int | None = None
    """Series in the feature panel when it is a sample (forecast.max_panel_series)."""

    def describe(self) -> str:
        how = f" ({'; '.join(self.rules)})" if self.rules else ""
        noun = {"category": "categories", "store-category": "store-category series"}.get(self.level, "products")
        sample = (f"; features, backtest and the per-class pick on a sample of {self.panel:,} of them, "
                  "stratified by demand class (forecast.max_panel_series)") if self.panel else ""
        return f"{self.products:,} of {self.catalogue:,} {noun}{how}{sample}"


def select_series(daily: pa.Table, config: ForecastConfig) -> tuple[pa.Table, Selection]:
    """``daily`` (event_date, product_id, units, revenue, ...) cut to the chosen products, or
    added up per category at ``level: category`` (a category is then the series' id)."""
    if config.level == "category":
        daily = by_category(daily)
    products = pc.unique(daily["product_id"])
    catalogue, keep, rules = len(products), products, []
    if config.products_file is not None:
        wanted = _read_ids(Path(config.products_file))
        keep = pc.filter(keep, pc.is_in(keep, pa.array(sorted(wanted))))
        rules.append(f"{len(wanted):,} listed in {config.products_file}")
    if config.min_history_days:
        firsts = daily.group_by("product_id").aggregate([("event_date", "min")])
        last = pc.max(daily["event_date"]).as_py()
        old_enough = pc.filter(firsts["product_id"], pc.less_equal(
            firsts["event_date_min"], pa.scalar(last - timedelta(days=config.min_history_days), pa.date32())))
        keep = pc.filter(keep, pc.is_in(keep, old_enough))
        rules.append(f"first sold at least {config.min_history_days} days before {last}")
    if config.top_n is not None:
        scope = daily.filter(pc.is_in(daily["product_id"], keep))
        totals = scope.group_by("product_id").aggregate([(config.rank_by, "sum")])
        ranked = totals.sort_by([(f"{config.rank_by}_sum", "descending"), ("product_id", "ascending")])
        keep = ranked["product_id"].slice(0, config.top_n).combine_chunks()
        rules.append(f"top {config.top_n:,} by {config.rank_by}")
    if len(keep) == 0:
        raise ForecastError(f"no product to forecast: {'; '.join(rules)} leaves none of {catalogue:,}")
    chosen = daily.filter(pc.is_in(daily["product_id"], keep)) if len(keep) < catalogue else daily
    return chosen, Selection(len(keep), catalogue, tuple(rules), config.level)


def by_category(daily: pa.Table) -> pa.Table:
    """One series per category and day: units and revenue added up, price and discount rate
    averaged over the units sold (a day's average as its products' sales weigh it)."""
    units = pc.cast(daily["units"], pa.float64())
    weighted = daily.append_column("price_units", pc.multiply(daily["avg_unit_price"], units)) \
        .append_column("discount_units", pc.multiply(daily["discount_rate"], units)) \
        .append_column("units_f", units)
    sums = weighted.group_by(["event_date", "category"], use_threads=False).aggregate(
        [("units", "sum"), ("revenue", "sum"), ("price_units", "sum"), ("discount_units", "sum"), ("units_f", "sum")])
    total = sums["units_f_sum"]
    safe = pc.if_else(pc.equal(total, 0), None, total)
    return pa.table({
        "event_date": sums["event_date"], "product_id": sums["category"], "category": sums["category"],
        "units": sums["units_sum"], "revenue": sums["revenue_sum"],
        "avg_unit_price": pc.divide(sums["price_units_sum"], safe),
        "discount_rate": pc.fill_null(pc.divide(sums["discount_units_sum"], safe), 0.0)})


def read_store_lines(lake: Lake) -> pa.Table:
    """Silver's order lines with their store, for ``level: store-category`` (Gold has no store)."""
    lines = lake.read(SILVER_ORDER_LINES, columns=["event_date", "product_id", "store_id", "quantity", "revenue",
                                                   "discount"])
    if lines is None or lines.num_rows == 0:
        raise ForecastError("silver.order_lines is empty: no store to forecast by")
    return lines


def by_store_category(lines: pa.Table, daily: pa.Table) -> pa.Table:
    """One series per store and category and day, from Silver's order lines (``lines``: event_date,
    product_id, store_id, quantity, revenue, discount; gold.daily_sales has no store) with each
    product's category as ``daily`` (gold.daily_sales) last files it. The id is ``store|category``."""
    latest = daily.group_by("product_id", use_threads=False).aggregate([("event_date", "max")])
    named = daily.join(latest, keys=["product_id", "event_date"], right_keys=["product_id", "event_date_max"],
                       join_type="inner").group_by("product_id", use_threads=False).aggregate([("category", "max")])
    joined = lines.join(named, keys="product_id", join_type="left outer")
    category = pc.fill_null(joined["category_max"], "unknown")
    store = pc.fill_null(joined["store_id"], "unknown")
    keyed = pa.table({"event_date": joined["event_date"], "series": pc.binary_join_element_wise(store, category, "|"),
                      "category": category, "units": pc.cast(joined["quantity"], pa.int64()),
                      "revenue": pc.cast(joined["revenue"], pa.float64()),
                      "discount": pc.cast(joined["discount"], pa.float64())})
    sums = keyed.group_by(["event_date", "series", "category"], use_threads=False).aggregate(
        [("units", "sum"), ("revenue", "sum"), ("discount", "sum")])
    gross = pc.add(sums["revenue_sum"], sums["discount_sum"])
    return pa.table({
        "event_date": sums["event_date"], "product_id": sums["series"], "category": sums["category"],
        "units": sums["units_sum"], "revenue": sums["revenue_sum"],
        "avg_unit_price": pc.divide(gross, pc.if_else(pc.equal(sums["units_sum"], 0), None,
                                                      pc.cast(sums["units_sum"], pa.float64()))),
        "discount_rate": pc.fill_null(pc.divide(sums["discount_sum"], pc.if_else(pc.equal(gross, 0), None, gross)),
                                      0.0)})


def _read_ids(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"forecast.products_file {path}: cannot read it ({exc})") from exc
    ids = {line.split("#", 1)[0].strip() for line in text.splitlines()} - {""}
    if not ids:
        raise ConfigError(f"forecast.products_file {path}: no product id in it (one per line)")
    return ids
