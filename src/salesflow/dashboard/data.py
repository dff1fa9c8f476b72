"""What the dashboard shows, read from the lake and the warehouse. No Streamlit here.

Every reader returns None when its source does not exist yet (an empty data directory, a
warehouse never loaded), so the pages can say "no data yet" instead of failing. Business numbers
come from the analytics SQL (``salesflow.analytics``) with bound parameters, not from copies of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
import pyarrow.dataset as ds

from salesflow.config import Settings
from salesflow.errors import SalesflowError
from salesflow.lake.log import head
from salesflow.lake.storage import open_lake
from salesflow.lake.tables import ALL_TABLES, GOLD_SALES_BY_WINDOW, PIPELINE_RUNS, QUALITY_RESULTS

LINEAGE = [
    ("sources", "bronze.events"), ("bronze.events", "silver.orders"), ("bronze.events", "silver.order_lines"),
    ("bronze.events", "silver.product_views"), ("bronze.events", "silver.cart_adds"),
    ("bronze.events", "silver.quarantine"), ("bronze.events", "silver.duplicates"),
    ("silver.order_lines", "gold.sales_by_window"), ("silver.order_lines", "gold.daily_sales"),
    ("silver.order_lines", "gold.category_revenue"), ("silver.product_views", "gold.funnel_daily"),
    ("silver.cart_adds", "gold.funnel_daily"), ("silver.orders", "gold.funnel_daily"),
    ("gold.daily_sales", "gold.demand_predictions"), ("silver.order_lines", "warehouse.fact_sales"),
    ("gold.daily_sales", "warehouse.agg_daily_sales"), ("gold.category_revenue", "warehouse.agg_category_revenue"),
    ("gold.funnel_daily", "warehouse.agg_funnel_daily"), ("gold.demand_predictions", "warehouse.demand_predictions"),
]


@dataclass(frozen=True)
class LiveNumbers:
    as_of: datetime
    """The newest window end: "now" in event time."""
    totals: dict[str, dict[str, float]]
    """"1 min" / "5 min" / "60 min" -> revenue, orders, units, aov."""
    per_minute: pd.DataFrame
    top_categories: pd.DataFrame
    top_stores: pd.DataFrame
    freshness_seconds: float | None


class DashboardData:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lake = open_lake(settings)

    # -- live (gold.sales_by_window) ---------------------------------------------------------
    def live(self, categories: list[str] | None = None, stores: list[str] | None = None) -> LiveNumbers | None:
        """From gold, or from Redis when ``live.sink`` is redis (the lake need not be reachable)."""
        if self.settings.live.sink == "redis":
            from salesflow.gold.live_sink import read_last_hour

            published = read_last_hour(self.settings)
            if published is None:
                return None
            newest, frame, stamp = published
            return self._live_numbers(newest, frame, categories, stores,
                                      (datetime.now(stamp.tzinfo) - stamp).total_seconds())
        from salesflow.gold.live_sink import last_hour

        frame = last_hour(self.lake)
        if frame is None or frame.empty:
            return None
        newest = frame["window_end"].max().to_pydatetime()
        freshness = (datetime.now(newest.tzinfo) - frame["updated_at"].max().to_pydatetime()).total_seconds()
        return self._live_numbers(newest, frame, categories, stores, freshness)

    def _live_numbers(self, newest: datetime, frame: pd.DataFrame, categories: list[str] | None,
                      stores: list[str] | None, freshness: float | None) -> LiveNumbers:
        if categories:
            frame = frame[frame["category"].isin(categories)]
        if stores:
            frame = frame[frame["store_id"].isin(stores)]
        frame = frame.assign(revenue=frame["revenue"].astype(float),
                             window_end=pd.to_datetime(frame["window_end"], utc=True))
        totals = {}
        for label, minutes in (("1 min", 1), ("5 min", 5), ("60 min", 60)):
            part = frame[frame["window_end"] > pd.Timestamp(newest) - pd.Timedelta(minutes=minutes)]
            orders = float(part["orders"].sum())
            totals[label] = {"revenue": float(part["revenue"].sum()), "orders": orders,
                             "units": float(part["units"].sum()),
                             "aov": float(part["revenue"].sum()) / orders if orders else 0.0}
        per_minute = frame.groupby("window_start", as_index=False)[["orders", "revenue"]].sum()
        top_categories = frame.groupby("category", as_index=False)["revenue"].sum().nlargest(5, "revenue")
        top_stores = frame.groupby("store_id", as_index=False)["revenue"].sum().nlargest(5, "revenue")
        return LiveNumbers(newest, totals, per_minute, top_categories, top_stores, freshness)

    def stream_rate(self) -> float | None:
        """Events/s of the latest pipeline run (ops.pipeline_runs)."""
        runs = self.pipeline_runs()
        if runs is None or runs.empty:
            return None
        last = runs.iloc[-1]
        seconds = (last["finished_at"] - last["started_at"]).total_seconds()
        return float(last["bronze_rows"]) / seconds if seconds > 0 else None

    def filters(self) -> tuple[list[str], list[str]]:
        table = self.lake.read(GOLD_SALES_BY_WINDOW, columns=["category", "store_id"],
                               filter=ds.field("window_size") == "1h")
        if table is None:
            return [], []
        return sorted(set(table["category"].to_pylist())), sorted(set(table["store_id"].to_pylist()))

    # -- warehouse (the analytics SQL) -------------------------------------------------------
    def query(self, name: str, params: dict[str, Any] | None = None) -> pd.DataFrame | None:
        from salesflow.analytics import run_query
        from salesflow.warehouse.targets import connect

        if self.settings.warehouse.url is None and not self.settings.warehouse_path.exists():
            return None
        raw = {k: str(v) for k, v in (params or {}).items() if v is not None}
        try:
            with connect(self.settings) as target:
                return _plain_numbers(run_query(target, name, raw).to_pandas())
        except SalesflowError:
            raise
        except Exception:  # a warehouse created but never loaded has no tables yet
            return None

    def date_span(self) -> tuple[date, date] | None:
        daily = self.query("daily_revenue")
        if daily is None or daily.empty:
            return None
        return min(daily["day"]), max(daily["day"])

    # -- quality, runs, tables ---------------------------------------------------------------
    def quality_results(self) -> pd.DataFrame | None:
        table = self.lake.read(QUALITY_RESULTS)
        return None if table is None or table.num_rows == 0 else table.to_pandas()

    def pipeline_runs(self) -> pd.DataFrame | None:
        table = self.lake.read(PIPELINE_RUNS)
        return None if table is None or table.num_rows == 0 else table.to_pandas().sort_values("started_at")

    def tables(self) -> pd.DataFrame | None:
        from salesflow.gold.status import table_status

        if not self.lake.exists(ALL_TABLES[0]):
            return None
        return pd.DataFrame([vars(s) for s in table_status(self.lake)])

    def table_as_of(self, qualified: str, version: int, limit: int = 50) -> pd.DataFrame | None:
        spec = next((t for t in ALL_TABLES if t.qualified == qualified), None)
        found = None if spec is None else head(self.lake, spec, limit, version=version)
        return None if found is None else found.table.to_pandas()

    def lineage_dot(self, status: pd.DataFrame | None) -> str:
        rows = {} if status is None else {r["table"]: r["rows"] for r in status.to_dict(orient="records")}
        nodes = sorted({n for edge in LINEAGE for n in edge})
        lines = ["digraph lineage {", "rankdir=LR; node [shape=box, style=rounded, fontsize=10];"]
        for node in nodes:
            label = f"{node}\\n{rows[node]:,} rows" if node in rows else node
            lines.append(f'"{node}" [label="{label}"];')
        lines += [f'"{a}" -> "{b}";' for a, b in LINEAGE]
        return "\n".join(lines + ["}"])

    def backtest(self, version: str) -> pd.DataFrame | None:
        """The version's backtest: actual and predicted units per category and day (next-day horizon)."""
        path = self.settings.registry_dir / "forecast" / version / "backtest.parquet"
        if not path.exists():
            return None
        scored = pd.read_parquet(path)
        scored = scored[scored["horizon"] == 1]
        return scored.groupby(["category", "target_date"], as_index=False)[["actual", "predicted"]].sum()

    def forecast_ahead(self) -> pd.DataFrame | None:
        """The newest forecast: predicted units with interval bounds per category for the next 7 days."""
        from salesflow.lake.tables import GOLD_DEMAND_PREDICTIONS

        table = self.lake.read(GOLD_DEMAND_PREDICTIONS)
        if table is None or table.num_rows == 0:
            return None
        frame = table.to_pandas()
        newest = frame[frame["forecast_date"] == frame["forecast_date"].max()]
        newest = newest[newest["model_version"] == newest["model_version"].max()]
        return newest.groupby(["category", "target_date"], as_index=False)[
            ["predicted_units", "lower_units", "upper_units"]].sum()

    def forecast_models(self) -> list[dict[str, Any]]:
        from salesflow.forecast.registry import Registry

        return Registry(self.settings.registry_dir).manifests()


def _plain_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """DECIMAL columns arrive as Python Decimals (object dtype); charts need floats."""
    from decimal import Decimal

    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = frame[column].astype(float)
    return frame
