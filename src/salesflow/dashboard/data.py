"""What the dashboard shows, read from the lake and the warehouse. No Streamlit here.

Every reader returns None when its source does not exist yet (an empty data directory, a
warehouse never loaded), so the pages can say "no data yet" instead of failing. Business numbers
come from the analytics SQL (``salesflow.analytics``) with bound parameters, not from copies of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from salesflow.config import Settings
from salesflow.dashboard.formatting import as_float
from salesflow.errors import SalesflowError
from salesflow.lake.log import head
from salesflow.lake.storage import open_lake
from salesflow.lake.tables import ALL_TABLES, GOLD_SALES_BY_WINDOW, PIPELINE_RUNS, QUALITY_RESULTS, REF_STORES

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


TILES = (("1 min", 1), ("5 min", 5), ("60 min", 60))
EARLIER = (("1 h", timedelta(hours=1)), ("1 d", timedelta(days=1)))


@dataclass(frozen=True)
class LiveNumbers:
    as_of: datetime
    """The newest window end: "now" in event time."""
    totals: dict[str, dict[str, float]]
    """"1 min" / "5 min" / "60 min" -> revenue, orders, units, aov."""
    earlier: dict[str, dict[str, dict[str, float]] | None]
    """"1 h" / "1 d" (before) -> the same tiles for the same windows then (None: no data then)."""
    per_minute: pd.DataFrame
    top_categories: pd.DataFrame
    top_stores: pd.DataFrame
    freshness_seconds: float | None


@dataclass(frozen=True)
class LastRun:
    command: str
    finished_at: datetime
    events_per_second: float | None


class DashboardData:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lake = open_lake(settings)

    @property
    def currency(self) -> str:
        return self.settings.pipeline.reporting_currency

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
        frame = _only(frame, categories, stores)
        earlier = {label: self._earlier(newest - shift, categories, stores) for label, shift in EARLIER}
        per_minute = frame.groupby("window_start", as_index=False)[["orders", "revenue"]].sum()
        top_categories = frame.groupby("category", as_index=False)[["revenue", "orders"]].sum().nlargest(5, "revenue")
        top_stores = frame.groupby("store_id", as_index=False)[["revenue", "orders"]].sum().nlargest(5, "revenue")
        top_stores = top_stores.merge(self.store_names(), on="store_id", how="left")
        return LiveNumbers(newest, _tiles(frame, newest), earlier, per_minute, top_categories,
                           top_stores[["store_id", "store_name", "city", "revenue", "orders"]], freshness)

    def _earlier(self, end: datetime, categories: list[str] | None,
                 stores: list[str] | None) -> dict[str, dict[str, float]] | None:
        """The tiles for the windows ending at ``end``; None when gold has nothing then (the stream
        had not started: no comparison rather than a fake -100%)."""
        from salesflow.gold.live_sink import hour_until

        try:
            frame = hour_until(self.lake, end)
        except Exception:  # the lake out of reach (a Redis-fed dashboard): no comparison  # noqa: BLE001
            return None
        if frame is None or frame.empty:
            return None
        return _tiles(_only(frame, categories, stores), end)

    def store_names(self) -> pd.DataFrame:
        """store_id -> store_name, city from the reference data (empty when none was loaded)."""
        table = self.lake.read(REF_STORES, columns=["store_id", "name", "city"])
        if table is None:
            return pd.DataFrame({"store_id": pd.Series(dtype=str), "store_name": pd.Series(dtype=str),
                                 "city": pd.Series(dtype=str)})
        return table.to_pandas().rename(columns={"name": "store_name"}).drop_duplicates("store_id", keep="last")

    def store_label(self, store_id: str) -> str:
        names = self.store_names().set_index("store_id")
        if store_id not in names.index:
            return store_id
        row = names.loc[store_id]
        return f"{row['store_name']}, {row['city']} ({store_id})"

    def last_run(self) -> LastRun | None:
        """The newest recorded run (a batch, or a stretch of the stream) and its events/s."""
        runs = self.pipeline_runs()
        if runs is None or runs.empty:
            return None
        last = runs.sort_values("finished_at").iloc[-1]
        seconds = (last["finished_at"] - last["started_at"]).total_seconds()
        rate = float(last["bronze_rows"]) / seconds if seconds > 0 else None
        return LastRun(str(last["command"]), last["finished_at"].to_pydatetime(), rate)

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
                return as_float(run_query(target, name, raw).to_pandas())
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
        """The version's backtest: actual and predicted units per category and day (next-day horizon),
        with the band (lower, upper) of the category's daily errors."""
        path = self.settings.registry_dir / "forecast" / version / "backtest.parquet"
        if not path.exists():
            return None
        from salesflow.forecast.backtest import category_days, category_error_band

        scored = pd.read_parquet(path)
        daily = category_days(scored[scored["horizon"] == 1])
        # The band a category's daily errors fall in 80% of the time (its own backtest days).
        band = category_error_band(daily, 0.8).reindex(pd.MultiIndex.from_frame(daily[["horizon", "category"]]))
        return daily.drop(columns="horizon").assign(
            lower=(daily["predicted"] + band["low"].to_numpy()).clip(lower=0),
            upper=daily["predicted"] + band["high"].to_numpy())

    def forecast_ahead(self) -> pd.DataFrame | None:
        """The newest forecast: predicted units with interval bounds per category for the next 7 days."""
        from salesflow.lake.tables import GOLD_DEMAND_PREDICTIONS

        table = self.lake.read(GOLD_DEMAND_PREDICTIONS)
        if table is None or table.num_rows == 0:
            return None
        frame = table.to_pandas()
        newest = frame[frame["forecast_date"] == frame["forecast_date"].max()]
        newest = newest[newest["model_version"] == newest["model_version"].max()]
        ahead = newest.groupby(["category", "target_date"], as_index=False).agg(
            predicted_units=("predicted_units", "sum"), lower_units=("lower_units", "sum"),
            upper_units=("upper_units", "sum"), horizon_days=("horizon_days", "min"))
        return self._category_band(ahead, str(newest["model_version"].iloc[0]))

    def _category_band(self, ahead: pd.DataFrame, version: str) -> pd.DataFrame:
        """A category's interval from its own backtest errors (per horizon, at the model's coverage;
        forecast.backtest.category_error_band)."""
        directory = self.settings.registry_dir / "forecast" / version
        if not (directory / "backtest.parquet").exists():
            return ahead  # a model from before the backtest was kept: the products' bounds added up
        from salesflow.forecast.backtest import category_days, category_error_band

        level = float(json.loads((directory / "manifest.json").read_text()).get("interval_coverage", 0.9))
        band = category_error_band(category_days(pd.read_parquet(directory / "backtest.parquet")), level)
        key = pd.MultiIndex.from_arrays([np.where(ahead["horizon_days"] == 1, 1, 7), ahead["category"]])
        found = key.isin(band.index)
        lower = ahead["predicted_units"] + band["low"].reindex(key).to_numpy()
        upper = ahead["predicted_units"] + band["high"].reindex(key).to_numpy()
        return ahead.assign(lower_units=np.where(found, np.clip(lower, 0, None), ahead["lower_units"]),
                            upper_units=np.where(found, np.maximum(upper, 0), ahead["upper_units"]))

    def newest_order_time(self) -> datetime | None:
        from salesflow.lake.log import column_max
        from salesflow.lake.tables import SILVER_ORDERS

        return column_max(self.lake, SILVER_ORDERS, "event_time") if self.lake.exists(SILVER_ORDERS) else None

    def forecast_models(self) -> list[dict[str, Any]]:
        from salesflow.forecast.registry import Registry

        return Registry(self.settings.registry_dir).manifests()


def _only(frame: pd.DataFrame, categories: list[str] | None, stores: list[str] | None) -> pd.DataFrame:
    if categories:
        frame = frame[frame["category"].isin(categories)]
    if stores:
        frame = frame[frame["store_id"].isin(stores)]
    return frame.assign(revenue=frame["revenue"].astype(float),
                        window_end=pd.to_datetime(frame["window_end"], utc=True))


def _tiles(frame: pd.DataFrame, newest: datetime) -> dict[str, dict[str, float]]:
    totals = {}
    for label, minutes in TILES:
        part = frame[frame["window_end"] > pd.Timestamp(newest) - pd.Timedelta(minutes=minutes)]
        orders, revenue = float(part["orders"].sum()), float(part["revenue"].sum())
        totals[label] = {"revenue": revenue, "orders": orders, "units": float(part["units"].sum()),
                         "aov": revenue / orders if orders else 0.0}
    return totals


def partial_days(daily: pd.DataFrame) -> list[tuple[date, datetime | None]]:
    """The first or last day the data covers only in part (the daily_revenue query's ``complete``),
    each with its newest sale."""
    cut = daily[~daily["complete"].astype(bool)]
    return [(row.day, None if pd.isna(row.last_event_at) else pd.Timestamp(row.last_event_at).to_pydatetime())
            for row in cut.itertuples()]


STATUS = {"fail": "FAILED (blocking)", "warn": "violations (warned)", "quarantine": "quarantined",
          "drop": "set aside as duplicates"}


def latest_per_rule(results: pd.DataFrame) -> pd.DataFrame:
    """Each rule's newest verdict, whatever run last checked it, with one readable status."""
    newest = results.sort_values("checked_at").groupby(["layer", "table_name", "rule"], as_index=False).tail(1)
    status = newest.apply(lambda r: "passed" if r["passed"] else STATUS.get(r["action"], r["action"]), axis=1)
    newest = newest.assign(status=status, ok=status == "passed")
    return newest.sort_values(["ok", "layer", "table_name", "rule"])[
        ["layer", "table_name", "rule", "status", "violating_rows", "checked_at"]]


def pass_rate_per_day(results: pd.DataFrame) -> pd.DataFrame:
    """Share of checks that passed, per day checked and layer."""
    day = pd.to_datetime(results["checked_at"], utc=True).dt.tz_localize(None).dt.normalize()
    return results.assign(day=day).groupby(["day", "layer"], as_index=False).agg(
        checks=("passed", "size"), pass_rate=("passed", "mean"))
