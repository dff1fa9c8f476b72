"""Training data for the forecasters: features per horizon from gold.daily_sales, fingerprinted,
and the backtest plot."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesflow.common.extras import require
from salesflow.config.forecast import ForecastConfig
from salesflow.engine.base import EngineAdapter
from salesflow.forecast.backtest import (
    Backtest,
    ForecastError,
)
from salesflow.forecast.calendar import Calendar, read_calendar
from salesflow.forecast.features import (
    HORIZONS,
    build_features,
    encode,
    read_daily_sales,
)
from salesflow.forecast.intermittent import Series, build_series
from salesflow.forecast.selection import Selection, select_series
from salesflow.lake.delta import Lake

log = logging.getLogger(__name__)
WEEK = 7


@dataclass
class TrainingData:
    frames: dict[int, pd.DataFrame]
    products: list[str]
    categories: list[str]
    first_day: date
    last_day: date
    fingerprint: str
    daily: pa.Table
    selection: Selection
    calendar: Calendar
    series: Series
    """The same history as packed series over open days, for the intermittent-demand methods."""


def load_training_data(engine: EngineAdapter, lake: Lake, config: ForecastConfig,
                       timezone: str = "UTC") -> TrainingData:
    """``timezone``: the reporting zone (its days are ``event_date``)."""
    everything = read_daily_sales(lake)
    if everything is None:
        raise ForecastError("gold.daily_sales is empty: run `salesflow batch` (or ingest a sales history) first")
    calendar = read_calendar(lake, everything, timezone)
    last_day = calendar.last_day
    daily, selection = select_series(everything.filter(pc.field("event_date") <= last_day), config)
    log.info("forecasting %s; %s", selection.describe(), calendar.describe())
    daily = daily.sort_by([("product_id", "ascending"), ("event_date", "ascending")])
    products = sorted(set(daily["product_id"].to_pylist()))
    categories = sorted(set(daily["category"].to_pylist()))
    frames = {}
    for horizon in HORIZONS:
        frame = build_features(engine, daily, horizon, last_day=last_day)
        scored = frame["target"].notna() & ~frame["target_date"].isin(calendar.closures)  # a closure is no demand
        frames[horizon] = encode(frame[scored], products, categories)
    days = daily["event_date"].to_pylist()
    return TrainingData(frames, products, categories, min(days), last_day, _fingerprint(daily), daily, selection,
                        calendar, build_series(daily, last_day, calendar.closures))


def _fingerprint(daily: pa.Table) -> str:
    """SHA-256 of the training rows, so a model can be traced to the exact data it saw."""
    digest = hashlib.sha256()
    for batch in daily.to_batches(max_chunksize=65_536):
        for column in batch.columns:
            for buffer in column.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    return digest.hexdigest()


def plot_backtest(backtest: Backtest, model: str, path: Any, horizon: int = 1) -> None:
    """Actual vs predicted units per category over the backtest days, with the interval band."""
    matplotlib = require("matplotlib", "drawing charts")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = backtest.predictions[
        (backtest.predictions["model"] == model) & (backtest.predictions["horizon"] == horizon)
    ]
    daily = scored.groupby(["category", "target_date"], as_index=False)[["actual", "predicted"]].sum()
    categories = sorted(daily["category"].unique())
    fig, axes = plt.subplots(len(categories), 1, figsize=(10, 2.4 * len(categories)), sharex=True, squeeze=False)
    for ax, category in zip(axes[:, 0], categories, strict=True):
        rows = daily[daily["category"] == category]
        ax.plot(rows["target_date"], rows["actual"], label="actual", color="#1f77b4")
        ax.plot(rows["target_date"], rows["predicted"], label=f"{model} (h={horizon})", color="#ff7f0e")
        spread = np.abs(rows["actual"] - rows["predicted"]).mean()
        ax.fill_between(rows["target_date"], np.clip(rows["predicted"] - spread, 0, None), rows["predicted"] + spread,
                        color="#ff7f0e", alpha=0.15, label="mean abs. error band")
        ax.set_title(category, fontsize=9, loc="left")
        ax.set_ylabel("units")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f"Backtest: actual vs predicted daily units per category ({model})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
