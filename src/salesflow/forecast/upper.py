"""The upper tree's own forecasts (categories and the total), for MinT reconciliation: backtested
beside the products, fitted for production, saved with a model version and applied at prediction.

The hierarchy's method and arithmetic are in forecast.hierarchy; this module runs the same kinds
on the summed series and keeps what prediction needs: the upper models per horizon and the
backtest errors that weigh MinT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from salesflow.config import ForecastConfig
from salesflow.engine.base import EngineAdapter
from salesflow.forecast.backtest import Backtest, run_backtest
from salesflow.forecast.features import HORIZONS, PREDICTION_HISTORY_DAYS, build_features, encode
from salesflow.forecast.hierarchy import MINT, TOTAL, Hierarchy, backtest_hierarchy, reconcile_days, upper_errors
from salesflow.forecast.intermittent import build_series
from salesflow.forecast.kinds import BY_CLASS, make
from salesflow.forecast.models import Forecaster
from salesflow.forecast.training import WEEK, TrainingData, upper_daily, upper_training_data

LEVEL_OF = {"category": lambda ids: ids != TOTAL, "total": lambda ids: ids == TOTAL}


@dataclass
class UpperFit:
    """What prediction needs for MinT: a model per upper level and horizon, and the errors."""

    kinds: dict[str, str]
    models: dict[str, dict[int, Forecaster]] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per horizon: categories, and the backtest's actual and predicted per upper series and day."""


def reconcile_backtest(engine: EngineAdapter, data: TrainingData, backtest: Backtest, config: ForecastConfig,
                       kinds: tuple[str, ...]) -> tuple[Hierarchy, pd.DataFrame, TrainingData]:
    """Backtests the upper series (the panel's sums) and compares bottom-up with MinT on the best
    product model's rows. Returns the choice, the upper rows the MinT weights come from, and the
    upper series' training data."""
    sampled = data.selection.panel is not None  # else the panel's sums are every product's, data.upper
    upper = upper_training_data(engine, data, upper_daily(data.daily) if sampled else data.upper)
    above = run_backtest(upper.frames, config, tuple(k for k in kinds if k != BY_CLASS), upper.series).predictions
    rows, upper_kinds = _best_per_level(above[above["model"] != BY_CLASS])
    best = backtest.metrics[backtest.metrics["horizon"] == "all"].sort_values("wape")["model"].iloc[0]
    hierarchy = backtest_hierarchy(backtest.predictions[backtest.predictions["model"] == best], rows,
                                   config.reconciliation)
    hierarchy.upper_kinds = upper_kinds
    return hierarchy, rows, upper


def _best_per_level(predictions: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    chosen, kinds = [], {}
    for level, of in LEVEL_OF.items():
        part = predictions[of(predictions["product_id"])]
        error = (part["actual"] - part["predicted"]).abs().groupby(part["model"]).sum()
        kinds[level] = str(error.idxmin())
        chosen.append(part[part["model"] == kinds[level]])
    return pd.concat(chosen, ignore_index=True), kinds


def fit_upper(engine: EngineAdapter, data: TrainingData, config: ForecastConfig, hierarchy: Hierarchy,
              rows: pd.DataFrame, backtested: TrainingData) -> UpperFit | None:
    """The upper models fitted on every selected product's sums (not only the panel's), when MinT
    was chosen; None for bottom-up, which needs nothing more. ``backtested``: the upper training
    data of the backtest, the same series unless the panel is a sample."""
    if hierarchy.method != MINT:
        return None
    upper = backtested if data.selection.panel is None else upper_training_data(engine, data, data.upper)
    fit = UpperFit(hierarchy.upper_kinds)
    for level, kind in hierarchy.upper_kinds.items():
        fit.models[level] = {}
        for horizon in HORIZONS:
            model = make(kind, config)
            model.attach(upper.series, horizon)
            model.fit(upper.frames[horizon])
            fit.models[level][horizon] = model
    for horizon in HORIZONS:
        actual, predicted, categories = upper_errors(rows[rows["horizon"] == horizon])
        fit.errors[str(horizon)] = {"categories": categories, "actual": actual.tolist(),
                                     "predicted": predicted.tolist()}
    return fit


def save_upper(fit: UpperFit, directory: Path) -> None:
    for level, models in fit.models.items():
        for horizon, model in models.items():
            (directory / f"upper-{level}" / f"h{horizon}").mkdir(parents=True, exist_ok=True)
            model.save(directory / f"upper-{level}" / f"h{horizon}")
    (directory / "upper.json").write_text(json.dumps({"kinds": fit.kinds, "errors": fit.errors}))


def load_upper(directory: Path, config: ForecastConfig) -> UpperFit | None:
    path = directory / "upper.json"
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    fit = UpperFit(state["kinds"], errors=state["errors"])
    for level, kind in fit.kinds.items():
        fit.models[level] = {}
        for horizon in HORIZONS:
            model = make(kind, config)
            model.load(directory / f"upper-{level}" / f"h{horizon}")
            fit.models[level][horizon] = model
    return fit


def reconcile_predictions(engine: EngineAdapter, fit: UpperFit, daily: pa.Table, origin: date,
                          predictions: pd.DataFrame, closures: list[date]) -> np.ndarray:
    """The product predictions (target_date, horizon_days, category, predicted_units) after MinT:
    each day's upper forecasts reconciled and split over the products."""
    upper = upper_daily(daily)
    series = build_series(upper, origin, closures)
    names = sorted(set(upper["product_id"].to_pylist()))
    out = predictions["predicted_units"].to_numpy(dtype=float).copy()
    for horizon, days in ((1, [1]), (WEEK, list(range(2, WEEK + 1)))):
        frame = build_features(engine, upper, horizon, future_days=WEEK, last_day=origin,
                               panel_from=origin - timedelta(days=PREDICTION_HISTORY_DAYS))
        frame = encode(frame[frame["target_date"].isin([origin + timedelta(days=d) for d in days])], names, names)
        base = pd.Series(0.0, index=frame.index)
        for level, of in LEVEL_OF.items():
            rows = of(frame["product_id"]).to_numpy()
            fit.models[level][horizon].attach(series, horizon)
            base[rows] = fit.models[level][horizon].predict(frame[rows])
        past = fit.errors[str(horizon)]
        rows = np.flatnonzero(predictions["target_date"].isin(frame["target_date"]).to_numpy())
        out[rows] = reconcile_days(predictions.iloc[rows].rename(columns={"predicted_units": "predicted"}),
                                   frame.assign(predicted=base)[["product_id", "target_date", "predicted"]],
                                   (np.array(past["actual"]), np.array(past["predicted"]), past["categories"]))
    return out
