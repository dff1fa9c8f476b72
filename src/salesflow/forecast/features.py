"""The training panel and its features, from gold.daily_sales, through the SQL models in models/forecast."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesflow.common.calendar import holidays
from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DAILY_SALES
from salesflow.models import load_model

HORIZONS = (1, 7)
"""Models trained: next day, and a week ahead (which also serves days 2-6: its features are older)."""
NUMERIC = ["day_of_week", "month", "day_of_month", "days_to_month_end", "is_weekend", "is_holiday",
           "lag_1", "lag_7", "lag_14", "lag_28", "same_weekday_1", "same_weekday_2", "same_weekday_4",
           "mean_7", "std_7", "mean_14", "std_14", "mean_30", "std_30", "history_days",
           "price_last", "price_ratio_30", "discount_last", "discount_mean_7"]
CATEGORICAL = ["category_code"]
"""Split on as categories. The product code is a plain number: with thousands of products a
categorical split costs more than it gives (the lags and rolling means already carry the level)."""
FEATURES = [*NUMERIC, "product_code", *CATEGORICAL]
DAILY_COLUMNS = ["event_date", "product_id", "category", "units", "revenue", "avg_unit_price", "discount_rate"]


def read_daily_sales(lake: Lake) -> pa.Table | None:
    table = lake.read(GOLD_DAILY_SALES, columns=DAILY_COLUMNS)
    return None if table is None or table.num_rows == 0 else table


PREDICTION_HISTORY_DAYS = 120
"""Enough history for every feature window (the longest, history_days, is capped at 90) plus a week."""


NEVER_DELISTED = 1_000_000
FEATURE_CHUNK_SERIES = 2_000
"""Series whose features one query builds: DuckDB's window state follows this, not the catalogue."""


def build_features(engine: EngineAdapter, daily_sales: pa.Table, horizon: int, future_days: int = 0,
                   panel_from: date = date(1900, 1, 1), last_day: date | None = None,
                   delisted_after: int = NEVER_DELISTED) -> pd.DataFrame:
    """One row per product and target day with what was known ``horizon`` days before it;
    ``last_day``: the data's last day (default: the newest in ``daily_sales``); a series ends
    ``delisted_after`` days after its last sale (forecast.delisted_after_days). Built a chunk of
    series at a time (a product's features read only its own rows) and handed over as float32."""
    last_day = last_day or pc.max(daily_sales["event_date"]).as_py()
    first_day = max(pc.min(daily_sales["event_date"]).as_py(), panel_from)
    engine.register("holidays", _holidays(first_day, last_day + timedelta(days=future_days)))
    products = pc.unique(daily_sales["product_id"]).sort()
    parts = []
    for first in range(0, len(products), FEATURE_CHUNK_SERIES):
        chunk = products.slice(first, FEATURE_CHUNK_SERIES)
        rows = daily_sales if len(chunk) == len(products) else \
            daily_sales.filter(pc.is_in(daily_sales["product_id"], chunk))
        engine.register("daily_sales", rows)
        engine.register("panel", engine.run(load_model("forecast.panel"), future_days=future_days,
                                            panel_from=panel_from, last_day=last_day,
                                            delisted_after=delisted_after))
        parts.append(_lean(engine.run(load_model("forecast.features"), horizon=horizon)))
    table = pa.concat_tables(parts)
    del parts
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _lean(table: pa.Table) -> pa.Table:
    """Features as float32, as the models take them (LightGBM bins them anyway): half the memory of
    the panel, which is most of what a forecast holds."""
    for name in NUMERIC:
        index = table.schema.get_field_index(name)
        if pa.types.is_floating(table.schema.field(index).type):
            table = table.set_column(index, name, pc.cast(table[name], pa.float32()))
    return table


def _holidays(first: date, last: date) -> pa.Table:
    found = [d for year in range(first.year, last.year + 1) for d in holidays(year) if first <= d <= last]
    return pa.table({"d": pa.array(found, pa.date32())})


def encode(frame: pd.DataFrame, products: list[str], categories: list[str]) -> pd.DataFrame:
    """Stable integer codes (-1 for a product the model never saw) so LightGBM can split on them."""
    out = frame.copy()
    out["product_code"] = pd.Categorical(out["product_id"], categories=products).codes.astype("int32")
    out["category_code"] = pd.Categorical(out["category"], categories=categories).codes.astype("int32")
    return out
