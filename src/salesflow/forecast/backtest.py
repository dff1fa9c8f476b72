"""Rolling-origin backtests: train on everything up to an origin, score the days after it, move on.

Metrics per model and horizon over all folds: MAE, RMSE, WAPE (sum of absolute errors over sum of
actuals: comparable across products of any volume), MASE (MAE over the in-sample MAE of "same
weekday last week"; below 1 beats it) and R2. Prediction intervals come from the residuals of
the backtest, binned by the size of the prediction; their coverage is checked on the last fold
with intervals built from the earlier folds only, so it is an honest out-of-sample number.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from salesflow.config import ForecastConfig
from salesflow.errors import TerminalError
from salesflow.forecast.demand_classes import CLASSES, by_class_predictions, choose, class_of, classify
from salesflow.forecast.kinds import BY_CLASS, make

log = logging.getLogger(__name__)
INTERVAL_BINS = 5


class ForecastError(TerminalError):
    """Forecasting cannot run on this data (too little history, nothing trained yet ...)."""


@dataclass
class Backtest:
    predictions: pd.DataFrame
    """model, horizon, fold, target_date, product_id, category, actual, predicted."""
    metrics: pd.DataFrame
    """model, horizon ('1', '7', 'all'), mae, rmse, wape, mase, r2, coverage (of forecast.interval),
    coverage_80 and coverage_95 (bands per demand class)."""
    cutoffs: list[Any]
    mase_scale: float
    selection: str = ""
    """Which products were forecast (``forecast.top_n`` and the other filters), for the reader."""
    calendar: str = ""
    """Closed days and a partial last day, left out of training and scoring."""
    by_class: pd.DataFrame = field(default_factory=pd.DataFrame)
    """WAPE, MAE, MASE per demand class (smooth, erratic, intermittent, lumpy), model and horizon."""
    choice: dict[str, str] = field(default_factory=dict)
    """Per demand class, the model with the lowest WAPE there (the ``by_class`` model's rows)."""
    classes: pd.Series = field(default_factory=lambda: pd.Series(dtype=str))
    """The demand class per product, as known at the first origin."""
    hierarchy: Any = None
    """forecast.hierarchy.Hierarchy: bottom-up or MinT, and its scores per level."""

    def wape(self, model: str, horizon: str = "all") -> float:
        row = self.metrics[(self.metrics["model"] == model) & (self.metrics["horizon"] == horizon)]
        return float(row["wape"].iloc[0])


def cutoffs(frame: pd.DataFrame, config: ForecastConfig) -> list[Any]:
    dates = frame["target_date"]
    first, last = dates.min(), dates.max()
    found = [last - timedelta(days=config.fold_days * k) for k in range(config.folds, 0, -1)]
    usable = [c for c in found if (c - first).days >= config.min_train_days]
    if not usable:
        raise ForecastError(f"{(last - first).days + 1} days of sales history; a backtest needs at least "
                            f"{config.min_train_days + config.fold_days} (forecast.min_train_days + fold_days)")
    return usable


def run_backtest(frames: dict[int, pd.DataFrame], config: ForecastConfig, kinds: tuple[str, ...],
                 series: Any = None) -> Backtest:
    """``series``: the sales history (forecast.intermittent.Series) the intermittent methods read.
    With more than one kind, the ``by_class`` model is scored too: per demand class, the rows of
    the kind best there."""
    any_frame = next(iter(frames.values()))
    origins = cutoffs(any_frame, config)
    scale = _mase_scale(any_frame, origins[0])
    parts = []
    for fold, cutoff in enumerate(origins):
        end = cutoff + timedelta(days=config.fold_days)
        for horizon, frame in frames.items():
            train = frame[frame["target_date"] <= cutoff]
            test = frame[(frame["target_date"] > cutoff) & (frame["target_date"] <= end)]
            for kind in kinds:
                clock = time.perf_counter()
                model = make(kind, config)
                model.attach(series, horizon)
                model.fit(train)
                parts.append(pd.DataFrame({
                    "model": kind, "horizon": horizon, "fold": fold, "target_date": test["target_date"].to_numpy(),
                    "product_id": test["product_id"].to_numpy(), "category": test["category"].to_numpy(),
                    "actual": test["target"].to_numpy(dtype=float), "predicted": model.predict(test)}))
                seconds = time.perf_counter() - clock
                log.info("backtest fold %d/%d (origin %s) h=%d %s: %s train rows, %s scored in %.1f s (%s rows/s)",
                         fold + 1, len(origins), cutoff, horizon, kind, f"{len(train):,}", f"{len(test):,}", seconds,
                         f"{(len(train) + len(test)) / max(seconds, 1e-3):,.0f}")
    predictions = pd.concat(parts, ignore_index=True)
    # Known before any scored day; from the packed series when given (the same days, no frame).
    classes = series.classes(origins[0]) if series is not None else \
        classify(any_frame[any_frame["target_date"] <= origins[0]])
    choice = choose(predictions, classes) if len(kinds) > 1 else {}
    if choice:
        predictions = pd.concat([predictions, by_class_predictions(predictions, classes, choice, BY_CLASS)],
                                ignore_index=True)
    return Backtest(predictions, _metrics(predictions, scale, config.interval, classes), origins, scale,
                    by_class=metrics_by_class(predictions, classes, scale), choice=choice, classes=classes)


def _mase_scale(frame: pd.DataFrame, first_cutoff: Any) -> float:
    history = frame[(frame["target_date"] <= first_cutoff) & frame["same_weekday_1"].notna()]
    scale = float(np.mean(np.abs(history["target"] - history["same_weekday_1"]))) if len(history) else 0.0
    return scale if scale > 0 else 1.0


def score(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    error = actual - predicted
    total = float(np.sum(np.abs(actual)))
    variance = float(np.sum((actual - actual.mean()) ** 2)) if len(actual) else 0.0
    mae = float(np.mean(np.abs(error))) if len(error) else float("nan")
    return {"mae": mae, "rmse": float(np.sqrt(np.mean(error ** 2))) if len(error) else float("nan"),
            "wape": float(np.sum(np.abs(error))) / total if total else float("nan"),
            "mase": mae / scale, "r2": 1 - float(np.sum(error ** 2)) / variance if variance else float("nan")}


def _metrics(predictions: pd.DataFrame, scale: float, interval: float, classes: pd.Series) -> pd.DataFrame:
    rows = []
    last_fold = predictions["fold"].max()
    groups = [(key, g) for key, g in predictions.groupby(["model", "horizon"])]
    groups += [((m, "all"), g) for m, g in predictions.groupby("model")]
    for (model, horizon), group in groups:
        metrics = score(group["actual"].to_numpy(), group["predicted"].to_numpy(), scale)
        earlier, last = group[group["fold"] < last_fold], group[group["fold"] == last_fold]
        rows.append({"model": model, "horizon": str(horizon), **metrics,
                     "coverage": _coverage(earlier, last, interval),
                     **{f"coverage_{round(level * 100)}": _coverage(earlier, last, level, classes)
                        for level in CONFORMAL_LEVELS}})
    return pd.DataFrame(rows).sort_values(["horizon", "wape"]).reset_index(drop=True)


CONFORMAL_LEVELS = (0.8, 0.95)
"""Nominal coverages checked per demand class, beside the configured ``forecast.interval``."""


def _coverage(earlier: pd.DataFrame, last: pd.DataFrame, level: float, classes: pd.Series | None = None) -> float:
    """Share of the last fold inside bands fitted on the earlier folds' residuals (split conformal):
    one set of bands, or one per demand class (an intermittent product's residuals are not a
    smooth one's)."""
    if not len(earlier) or not len(last):
        return float("nan")
    if classes is None:
        low, high = apply_bands(interval_bands(earlier, level), last["predicted"].to_numpy())
        return float(np.mean((last["actual"] >= low) & (last["actual"] <= high)))
    fitted = class_of(earlier["product_id"], classes)
    scored = class_of(last["product_id"], classes)
    hits = 0
    for cls, part in last.groupby(scored):
        same = earlier[fitted == cls]
        low, high = apply_bands(interval_bands(same if len(same) else earlier, level), part["predicted"].to_numpy())
        hits += int(np.sum((part["actual"] >= low) & (part["actual"] <= high)))
    return hits / len(last)


def interval_bands(predictions: pd.DataFrame, interval: float) -> dict[str, list[float]]:
    """Residual quantiles per bin of predicted size: a big prediction gets a wider band."""
    predicted = predictions["predicted"].to_numpy()
    residual = predictions["actual"].to_numpy() - predicted
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, INTERVAL_BINS + 1)[1:-1]))
    bins = np.searchsorted(edges, predicted, side="right")
    tail = (1 - interval) / 2
    low, high = [], []
    for b in range(len(edges) + 1):
        chosen = residual[bins == b] if np.any(bins == b) else residual
        low.append(float(np.quantile(chosen, tail)))
        high.append(float(np.quantile(chosen, 1 - tail)))
    return {"edges": edges.tolist(), "low": low, "high": high}


def class_bands(predictions: pd.DataFrame, classes: pd.Series, level: float) -> dict[str, dict[str, list[float]]]:
    """Bands per demand class from the backtest's residuals (the classes the predictions have)."""
    of = class_of(predictions["product_id"], classes)
    return {str(cls): interval_bands(part, level) for cls, part in predictions.groupby(of)}


def apply_class_bands(bands: dict[str, dict[str, list[float]]], fallback: dict[str, list[float]],
                      predicted: np.ndarray, of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each prediction within its demand class's band (the overall band for a class not seen)."""
    low, high = np.empty_like(predicted), np.empty_like(predicted)
    for cls in np.unique(of):
        rows = of == cls
        low[rows], high[rows] = apply_bands(bands.get(str(cls), fallback), predicted[rows])
    return low, high


def apply_bands(bands: dict[str, list[float]], predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bins = np.searchsorted(np.array(bands["edges"]), predicted, side="right")
    low = np.clip(predicted + np.array(bands["low"])[bins], 0.0, None)
    high = np.maximum(predicted + np.array(bands["high"])[bins], low)
    return low, high


def metrics_by_class(predictions: pd.DataFrame, classes: pd.Series, scale: float) -> pd.DataFrame:
    """WAPE, MAE, MASE and the split-conformal coverage at 80% and 95% (bands of the class's earlier
    folds, scored on its last) per demand class, model and horizon (1, 7, all)."""
    scored = predictions.assign(demand_class=class_of(predictions["product_id"], classes))
    last_fold = predictions["fold"].max()
    rows = []
    for (cls, model), group in scored.groupby(["demand_class", "model"]):
        for horizon, part in [*((str(h), g) for h, g in group.groupby("horizon")), ("all", group)]:
            figures = score(part["actual"].to_numpy(), part["predicted"].to_numpy(), scale)
            earlier, last = part[part["fold"] < last_fold], part[part["fold"] == last_fold]
            rows.append({"demand_class": cls, "model": model, "horizon": horizon,
                         "products": part["product_id"].nunique(), "wape": figures["wape"],
                         "mae": figures["mae"], "mase": figures["mase"],
                         **{f"coverage_{round(level * 100)}": _coverage(earlier, last, level)
                            for level in CONFORMAL_LEVELS}})
    order = {c: i for i, c in enumerate(CLASSES)}
    frame = pd.DataFrame(rows)
    return frame.sort_values(["demand_class", "horizon", "wape"], key=lambda s: s.map(order) if s.name ==
                             "demand_class" else s).reset_index(drop=True)


def category_days(predictions: pd.DataFrame) -> pd.DataFrame:
    """Actual and predicted units per horizon, category and day (its products added up)."""
    return predictions.groupby(["horizon", "category", "target_date"], as_index=False)[["actual", "predicted"]].sum()


def category_error_band(days: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per horizon and category (the index), the errors (actual - predicted) its days fell between
    ``level`` of the time: ``low`` and ``high``, from :func:`category_days`. A category's band comes
    from its own errors: its products' bounds added up would claim they all miss the same way on
    the same day, a band many times too wide."""
    errors = (days["actual"] - days["predicted"]).groupby([days["horizon"], days["category"]])
    return pd.DataFrame({"low": errors.quantile((1 - level) / 2), "high": errors.quantile((1 + level) / 2)})

