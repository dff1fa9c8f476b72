"""``salesflow forecast evaluate|train|predict``: backtest, register, and write predictions to gold."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.engine.base import EngineAdapter
from salesflow.forecast.backtest import (
    Backtest,
    ForecastError,
    apply_bands,
    apply_class_bands,
    class_bands,
    interval_bands,
    run_backtest,
)
from salesflow.forecast.calendar import read_calendar
from salesflow.forecast.demand_classes import class_of
from salesflow.forecast.features import (
    FEATURES,
    HORIZONS,
    PREDICTION_HISTORY_DAYS,
    build_features,
    encode,
    read_daily_sales,
)
from salesflow.forecast.intermittent import build_series
from salesflow.forecast.kinds import BY_CLASS, KINDS, ByClass, make
from salesflow.forecast.models import Forecaster
from salesflow.forecast.registry import Registry
from salesflow.forecast.selection import by_category, by_store_category, read_store_lines
from salesflow.forecast.training import WEEK, load_training_data
from salesflow.forecast.upper import fit_upper, load_upper, reconcile_backtest, reconcile_predictions, save_upper
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DEMAND_PREDICTIONS
from salesflow.ops import lineage

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    backtest: Backtest
    versions: dict[str, str] = field(default_factory=dict)
    """kind -> version."""
    promoted: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def evaluate(ctx: RunContext | Settings, kinds: tuple[str, ...] = KINDS) -> Backtest:
    ctx = as_context(ctx)
    with ctx.engine() as engine:
        data = load_training_data(engine, ctx.lake, ctx.settings.forecast, ctx.settings.pipeline.reporting_timezone)
        backtest = run_backtest(data.frames, ctx.settings.forecast, kinds, data.series)
        backtest.hierarchy, _, _ = reconcile_backtest(engine, data, backtest, ctx.settings.forecast, kinds)
    backtest.selection, backtest.calendar = data.selection.describe(), data.calendar.describe()
    return backtest


@lineage.traced("forecast_train", ("gold.daily_sales",), ())
def train(ctx: RunContext | Settings, kinds: tuple[str, ...] = KINDS, promote: str | None = "best") -> TrainResult:
    """Backtest every kind, fit each on all data, register them, promote the best WAPE (or ``promote``)."""
    ctx = as_context(ctx)
    settings = ctx.settings
    clock = time.perf_counter()
    with ctx.engine() as engine:
        data = load_training_data(engine, ctx.lake, settings.forecast, settings.pipeline.reporting_timezone)
        features_s = time.perf_counter() - clock
        clock = time.perf_counter()
        backtest = run_backtest(data.frames, settings.forecast, kinds, data.series)
        backtest.hierarchy, upper_rows, backtested = reconcile_backtest(engine, data, backtest, settings.forecast,
                                                                       kinds)
        upper = fit_upper(engine, data, settings.forecast, backtest.hierarchy, upper_rows, backtested)
    backtest.selection, backtest.calendar = data.selection.describe(), data.calendar.describe()
    result = TrainResult(backtest, seconds={"features": features_s, "backtest": time.perf_counter() - clock})
    registry = Registry(settings.registry_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    classes = data.series.classes(data.last_day)  # on the whole history: what predict serves
    clock = time.perf_counter()
    fitted: dict[str, dict[int, Forecaster]] = {}
    for kind in kinds:
        fitted[kind] = {}
        for horizon, frame in data.frames.items():
            fitted[kind][horizon] = make(kind, settings.forecast)
            fitted[kind][horizon].attach(data.series, horizon)
            fitted[kind][horizon].fit(frame)
            log.info("final fit %s h=%d on %s rows", kind, horizon, f"{len(frame):,}")
    if backtest.choice:  # the per-class pick, from the models just fitted
        fitted[BY_CLASS] = {h: ByClass(settings.forecast, backtest.choice, classes.to_dict(),
                                       {k: fitted[k][h] for k in set(backtest.choice.values())}) for h in HORIZONS}
    for kind, models in fitted.items():
        scored = backtest.predictions[backtest.predictions["model"] == kind]
        manifest = {
            "kind": kind, "trained_at": datetime.now(UTC).isoformat(), "horizons": list(HORIZONS),
            "data_from": data.first_day.isoformat(), "data_to": data.last_day.isoformat(),
            "data_fingerprint": data.fingerprint, "rows": {h: len(f) for h, f in data.frames.items()},
            "features": FEATURES, "params": models[HORIZONS[0]].params(),
            "metrics": backtest.metrics[backtest.metrics["model"] == kind].to_dict(orient="records"),
            "intervals": {str(h): interval_bands(scored[scored["horizon"] == h], settings.forecast.interval)
                          for h in HORIZONS},
            "intervals_by_class": {str(h): class_bands(scored[scored["horizon"] == h], classes,
                                                       settings.forecast.interval) for h in HORIZONS},
            "demand_classes": classes.to_dict(),
            "interval_coverage": settings.forecast.interval,
            "products": data.products, "categories": data.categories, "level": settings.forecast.level,
            "selection": data.selection.describe(),
            "calendar": data.calendar.describe(),
            "backtest_origins": [c.isoformat() for c in backtest.cutoffs],
            "hierarchy": backtest.hierarchy.facts(),
        }
        version = f"{stamp}-{kind}-{data.fingerprint[:8]}"
        directory = registry.save(version, manifest, models)
        if upper is not None:  # MinT reconciles this version's predictions
            save_upper(upper, directory)
        scored.to_parquet(directory / "backtest.parquet", index=False)  # for the dashboard's actual-vs-predicted
        result.versions[kind] = version
    result.seconds["fit"] = time.perf_counter() - clock
    if promote is not None:
        chosen = min(result.versions, key=lambda k: backtest.wape(k)) if promote == "best" else promote
        if chosen not in result.versions:
            raise ForecastError(f"cannot promote {chosen!r}: trained kinds are {', '.join(result.versions)}")
        registry.promote(result.versions[chosen])
        result.promoted = result.versions[chosen]
    return result


@dataclass
class PredictResult:
    version: str
    forecast_date: date
    rows: int
    table: pa.Table


@lineage.traced("forecast_predict", ("gold.daily_sales",), ("gold.demand_predictions",))
def predict(ctx: RunContext | Settings, version: str | None = None) -> PredictResult:
    """Next-day and next-7-day forecasts per product, with intervals, into gold.demand_predictions.

    Idempotent: the rows of (forecast_date, model_version) are replaced, so a rerun changes nothing."""
    ctx = as_context(ctx)
    settings, lake = ctx.settings, ctx.lake
    manifest, models = Registry(settings.registry_dir).load(version, settings.forecast)
    with ctx.engine() as engine:
        daily = read_daily_sales(lake)
        if daily is None:
            raise ForecastError("gold.daily_sales is empty: nothing to forecast from")
        # Before a partial last day: that day is forecast too.
        calendar = read_calendar(lake, daily, settings.pipeline.reporting_timezone)
        origin = calendar.last_day
        if manifest.get("level") == "category":  # the model forecasts categories as series
            daily = by_category(daily)
        elif manifest.get("level") == "store-category":
            daily = by_store_category(read_store_lines(lake), daily)
        # The products the model was trained on, not the whole catalogue (a --top N model).
        daily = daily.filter(pc.field("product_id").isin(manifest["products"]) & (pc.field("event_date") <= origin))
        series = build_series(daily, origin, calendar.closures)
        for horizon, model in models.items():
            model.attach(series, horizon)
        parts = []
        step = settings.forecast.max_panel_series  # features for this many series at a time: memory stays flat
        for first in range(0, len(series.products), step):
            chunk = daily.filter(pc.is_in(daily["product_id"], pa.array(series.products[first:first + step])))
            parts.extend(_predict_chunk(engine, chunk, models, manifest, origin,
                                        settings.forecast.delisted_after_days))
            log.info("predicted %s of %s series", f"{min(first + step, len(series.products)):,}",
                     f"{len(series.products):,}")
        out = pd.concat(parts, ignore_index=True)
        forecast = out["product_id"].nunique()
        if forecast < len(series.products):
            log.info("%s of %s series forecast: the others had no sale for %d days (forecast.delisted_after_days)",
                     f"{forecast:,}", f"{len(series.products):,}", settings.forecast.delisted_after_days)
        upper = load_upper(Registry(settings.registry_dir).root / manifest["version"], settings.forecast)
        if upper is not None:  # MinT won the backtest: the products' numbers add up to the reconciled ones
            out["predicted_units"] = reconcile_predictions(engine, upper, daily, origin, out, calendar.closures)
    out["lower_units"], out["upper_units"] = _bands(out, manifest)
    table = pa.table({
        "target_date": pa.array(out["target_date"].to_list(), pa.date32()),
        "product_id": pa.array(out["product_id"].to_list(), pa.string()),
        "category": pa.array(out["category"].to_list(), pa.string()),
        "horizon_days": pa.array(out["horizon_days"].to_list(), pa.int32()),
        "predicted_units": pa.array(out["predicted_units"].to_numpy(dtype=float)),
        "lower_units": pa.array(out["lower_units"].to_numpy(dtype=float)),
        "upper_units": pa.array(out["upper_units"].to_numpy(dtype=float)),
        "model_version": pa.array([manifest["version"]] * len(out), pa.string()),
        "forecast_date": pa.array([origin] * len(out), pa.date32()),
    })
    _replace_forecast(lake, table, origin, manifest["version"])
    return PredictResult(manifest["version"], origin, table.num_rows, table)


def _predict_chunk(engine: EngineAdapter, daily: pa.Table, models: dict[int, Forecaster], manifest: dict[str, Any],
                   origin: date, delisted_after: int) -> list[pd.DataFrame]:
    parts = []
    for horizon, days in ((1, [1]), (WEEK, list(range(2, WEEK + 1)))):
        frame = build_features(engine, daily, horizon, future_days=WEEK, last_day=origin, delisted_after=delisted_after,
                               panel_from=origin - timedelta(days=PREDICTION_HISTORY_DAYS))
        targets = [origin + timedelta(days=d) for d in days]
        frame = encode(frame[frame["target_date"].isin(targets)], manifest["products"], manifest["categories"])
        parts.append(pd.DataFrame({
            "target_date": frame["target_date"].to_numpy(), "product_id": frame["product_id"].to_numpy(),
            "category": frame["category"].to_numpy(),
            "horizon_days": [(t - origin).days for t in frame["target_date"]],
            "predicted_units": models[horizon].predict(frame)}))
    return parts


def _bands(out: pd.DataFrame, manifest: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each prediction's interval, from the backtest errors of its model, horizon and demand class
    (split conformal), around the number written (after any reconciliation)."""
    low, high = np.zeros(len(out)), np.zeros(len(out))
    model_horizon = np.where(out["horizon_days"].to_numpy() == 1, 1, WEEK)
    for horizon in (1, WEEK):
        rows = model_horizon == horizon
        predicted = out["predicted_units"].to_numpy(dtype=float)[rows]
        overall = manifest["intervals"][str(horizon)]
        if "intervals_by_class" in manifest:  # split-conformal per demand class
            of = class_of(out["product_id"][rows], manifest["demand_classes"]).to_numpy()
            low[rows], high[rows] = apply_class_bands(manifest["intervals_by_class"][str(horizon)], overall,
                                                      predicted, of)
        else:  # a model registered before the classes
            low[rows], high[rows] = apply_bands(overall, predicted)
    return low, high


def _replace_forecast(lake: Lake, table: pa.Table, origin: date, version: str) -> None:
    predicate = f"forecast_date = '{origin.isoformat()}' AND model_version = '{version}'"
    lake.replace_rows(GOLD_DEMAND_PREDICTIONS, table, predicate)


def registered_models(ctx: RunContext | Settings) -> Registry:
    """The model registry of this data directory (``salesflow forecast models``)."""
    return Registry(as_context(ctx).settings.registry_dir)


def promote(ctx: RunContext | Settings, version: str) -> None:
    """Make ``version`` the model ``predict`` uses (``salesflow forecast promote``)."""
    registered_models(ctx).promote(version)
