"""Training data for the forecasters: features per horizon from gold.daily_sales, fingerprinted,
and the backtest plot."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesflow.config.forecast import ForecastConfig
from salesflow.engine.base import EngineAdapter
from salesflow.forecast.backtest import (
    Backtest,
    ForecastError,
    category_days,
    category_error_band,
)
from salesflow.forecast.calendar import Calendar, read_calendar
from salesflow.forecast.demand_classes import UNSEEN_CLASS
from salesflow.forecast.features import (
    HORIZONS,
    build_features,
    encode,
    read_daily_sales,
)
from salesflow.forecast.hierarchy import TOTAL
from salesflow.forecast.intermittent import Series, build_series
from salesflow.forecast.selection import Selection, by_category, by_store_category, read_store_lines, select_series
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
    upper: pa.Table
    """Category and total series over every selected product (the panel may be a sample)."""


def load_training_data(engine: EngineAdapter, lake: Lake, config: ForecastConfig,
                       timezone: str = "UTC") -> TrainingData:
    """``timezone``: the reporting zone (its days are ``event_date``)."""
    everything = read_daily_sales(lake)
    if everything is None:
        raise ForecastError("gold.daily_sales is empty: run `salesflow batch` (or ingest a sales history) first")
    calendar = read_calendar(lake, everything, timezone)
    last_day = calendar.last_day
    # A catalogue's year of daily rows is the largest table here: one copy at a time, none unneeded.
    if config.level == "store-category":
        everything = by_store_category(read_store_lines(lake), everything)
    history = everything.filter(pc.field("event_date") <= last_day) if calendar.partial_day else everything
    del everything
    daily, selection = select_series(history, config)
    del history
    log.info("forecasting %s; %s", selection.describe(), calendar.describe())
    series = build_series(daily, last_day, calendar.closures)
    products = series.products.tolist()  # every series the models serve; the panel may be a sample of them
    categories = sorted(set(pc.unique(daily["category"]).to_pylist()))
    fingerprint = _fingerprint(daily)
    upper = upper_daily(daily)
    panel = panel_sample(series, config, last_day)
    if panel is not None:
        daily = daily.filter(pc.is_in(daily["product_id"], pa.array(panel)))
        selection = replace(selection, panel=len(panel))
        log.info("features for a sample of %s series, stratified by demand class", f"{len(panel):,}")
    frames = {}
    for horizon in HORIZONS:
        clock = time.perf_counter()
        frame = build_features(engine, daily, horizon, last_day=last_day, delisted_after=config.delisted_after_days)
        scored = frame["target"].notna() & ~frame["target_date"].isin(calendar.closures)  # a closure is no demand
        frames[horizon] = encode(frame[scored], products, categories)
        log.info("features h=%d: %s rows in %.1f s", horizon, f"{len(frames[horizon]):,}", time.perf_counter() - clock)
    return TrainingData(frames, products, categories, series.days[0].item(), last_day, fingerprint, daily, selection,
                        calendar, series, upper)


def upper_daily(daily: pa.Table) -> pa.Table:
    """The upper tree of the hierarchy as series of its own: each category and the total."""
    categories = by_category(daily)
    total = by_category(daily.set_column(daily.schema.get_field_index("category"), "category",
                                         pa.array([TOTAL] * daily.num_rows, pa.string())))
    return pa.concat_tables([categories, total.cast(categories.schema)])


def upper_training_data(engine: EngineAdapter, data: TrainingData, daily: pa.Table) -> TrainingData:
    """Features and series for ``daily`` (from :func:`upper_daily`) on the products' calendar."""
    names = sorted(set(daily["product_id"].to_pylist()))
    frames = {}
    for horizon in HORIZONS:
        frame = build_features(engine, daily, horizon, last_day=data.last_day)
        scored = frame["target"].notna() & ~frame["target_date"].isin(data.calendar.closures)
        frames[horizon] = encode(frame[scored], names, names)
    return replace(data, frames=frames, products=names, categories=names, daily=daily,
                   series=build_series(daily, data.last_day, data.calendar.closures), upper=daily)


def panel_sample(series: Series, config: ForecastConfig, last_day: date) -> list[str] | None:
    """The series the feature panel covers when there are more than ``forecast.max_panel_series``:
    the same share of each demand class (as of the first backtest origin), seeded, so a rerun
    picks the same ones. None: every series."""
    if len(series.products) <= config.max_panel_series:
        return None
    first_origin = last_day - timedelta(days=config.folds * config.fold_days)
    classes = series.classes(first_origin).reindex(series.products).fillna(UNSEEN_CLASS)
    share = config.max_panel_series / len(series.products)
    rng = np.random.default_rng(PANEL_SEED)
    chosen: list[str] = []
    for _, members in classes.groupby(classes, sort=True):
        take = max(1, round(len(members) * share))
        chosen.extend(rng.choice(members.index.to_numpy(), size=min(take, len(members)), replace=False).tolist())
    return sorted(chosen)[:config.max_panel_series] if len(chosen) > config.max_panel_series else sorted(chosen)


PANEL_SEED = 20_261_203


def _fingerprint(daily: pa.Table) -> str:
    """SHA-256 of the training rows in (product, day) order, so a model can be traced to the exact
    data it saw whatever order the lake's files were read in; sorted a slice at a time."""
    digest = hashlib.sha256()
    order = pc.sort_indices(daily, sort_keys=[("product_id", "ascending"), ("event_date", "ascending")])
    for first in range(0, len(order), FINGERPRINT_ROWS):
        for batch in daily.take(order.slice(first, FINGERPRINT_ROWS)).to_batches(max_chunksize=65_536):
            digest.update(batch.serialize())  # IPC bytes: values only, padding zeroed
    return digest.hexdigest()


FINGERPRINT_ROWS = 1_000_000


def plot_backtest(backtest: Backtest, model: str, path: Any, horizon: int = 1) -> None:
    """Actual vs predicted units per category over the backtest days: a grid of small multiples,
    each on its own scale, with the band the category's daily errors fall in 80% of the time."""
    import matplotlib  # a base dependency (hierarchicalforecast needs it too); loaded only to draw

    matplotlib.use("Agg")
    import matplotlib.dates as dates
    import matplotlib.pyplot as plt

    scored = backtest.predictions[
        (backtest.predictions["model"] == model) & (backtest.predictions["horizon"] == horizon)
    ]
    daily = category_days(scored)
    band = category_error_band(daily, PLOT_BAND)
    categories = sorted(daily["category"].unique())
    columns = min(PLOT_COLUMNS, len(categories))
    rows_needed = -(-len(categories) // columns)
    fig, axes = plt.subplots(rows_needed, columns, figsize=(4.2 * columns, 2.4 * rows_needed), squeeze=False)
    for ax, category in zip(axes.flat, categories, strict=False):
        rows = daily[daily["category"] == category]
        low, high = band.loc[(horizon, category)]
        ax.fill_between(rows["target_date"], np.clip(rows["predicted"] + low, 0, None), rows["predicted"] + high,
                        color="#ff7f0e", alpha=0.18, label="80% of daily errors")
        ax.plot(rows["target_date"], rows["actual"], label="actual", color="#1f77b4", linewidth=1.2)
        ax.plot(rows["target_date"], rows["predicted"], label=f"{model} (h={horizon})", color="#ff7f0e",
                linewidth=1.2)
        ax.set_title(str(category), fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(dates.WeekdayLocator(byweekday=0))  # Mondays
        ax.xaxis.set_major_formatter(dates.DateFormatter("%d %b"))
    for ax in list(axes.flat)[len(categories):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("units")
    axes[0, 0].legend(loc="upper left", fontsize=7)
    fig.suptitle(f"Backtest: actual vs predicted daily units per category ({model})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


PLOT_COLUMNS = 4
PLOT_BAND = 0.8
