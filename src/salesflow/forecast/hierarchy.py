"""Forecasts that add up: product, category and total, reconciled (Nixtla's hierarchicalforecast).

Two ways are backtested and the better one at category level is used (a category manager reads
that number):

* *bottom-up*: categories and the total are the sums of the product forecasts;
* *MinT, then split*: the category and total series get forecasts of their own (the same kinds,
  fitted on the summed series; the best kind per level), MinTrace with a shrunk covariance of their
  backtest errors reconciles them, and each category's number is split over its products in the
  proportions of their own forecasts (evenly when those are all zero).

Either way the product numbers are the ones written, and a category's or the total's forecast is
their sum: coherent by construction, to the float. MinT runs on the upper tree only (total and
categories): its covariance is a matrix per series pair, which a catalogue of products cannot have.
Its weights come from folds before the one scored, so the comparison starts at the second fold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
TOTAL = "(total)"
BOTTOM_UP, MINT = "bottom_up", "mint_split"


@dataclass
class Hierarchy:
    method: str
    """The method chosen (lowest category-level WAPE in the backtest)."""
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    """method, level, horizon, wape."""
    upper_kinds: dict[str, str] = field(default_factory=dict)
    """The kind forecasting each upper level (category, total)."""

    def facts(self) -> dict[str, Any]:
        """As JSON: the manifest's and ``--json``'s ``hierarchy``/``reconciliation``."""
        return {"method": self.method, "upper_kinds": self.upper_kinds,
                "scores": self.scores.to_dict(orient="records")}


def summing(categories: list[str]) -> np.ndarray:
    """S for the upper tree: the total over the categories, then each category itself."""
    return np.vstack([np.ones((1, len(categories))), np.eye(len(categories))])


def mint(categories: list[str], base: np.ndarray, actual_in: np.ndarray, fitted_in: np.ndarray) -> np.ndarray:
    """Reconciled category forecasts (columns: days) from base forecasts of [total, *categories]
    and earlier errors of the same rows (MinTrace, mint_shrink)."""
    from hierarchicalforecast.methods import MinTrace

    reconciled = MinTrace(method="mint_shrink", nonnegative=False).fit_predict(
        S=summing(categories), y_hat=base, y_insample=actual_in, y_hat_insample=fitted_in)["mean"]
    return np.clip(np.asarray(reconciled)[1:], 0.0, None)  # the categories' rows; demand is not negative


def split(products: pd.DataFrame, category_totals: dict[str, float]) -> np.ndarray:
    """``products`` (category, predicted) of one day: each category's number over its products in
    proportion to their forecasts, evenly where those add up to zero."""
    out = products["predicted"].to_numpy(dtype=float).copy()
    for category, rows in products.groupby("category").indices.items():
        target = category_totals.get(str(category))
        if target is None:
            continue
        own = out[rows].sum()
        out[rows] = out[rows] / own * target if own > 0 else target / len(rows)
    return out


def backtest_hierarchy(bottom: pd.DataFrame, upper: pd.DataFrame, forced: str = "auto") -> Hierarchy:
    """``bottom``: the chosen model's backtest rows (fold, horizon, target_date, product_id,
    category, actual, predicted); ``upper``: the best kind's rows per upper series (product_id is
    a category or TOTAL). Scores both methods at every level on folds 2.. and picks one (or
    ``forced``, when not auto)."""
    rows: list[dict[str, Any]] = []
    for horizon, part in bottom.groupby("horizon"):
        above = upper[upper["horizon"] == horizon]
        for fold in sorted(part["fold"].unique())[1:]:
            scored = part[part["fold"] == fold]
            weights = upper_errors(above[above["fold"] < fold])
            for method in (BOTTOM_UP, MINT):
                products = scored.assign(predicted=_coherent(scored, above[above["fold"] == fold], weights, method))
                rows.extend(_level_errors(products, method, int(horizon)))
    errors = pd.DataFrame(rows)
    if errors.empty:
        return Hierarchy(BOTTOM_UP if forced == "auto" else forced)
    sums = errors.groupby(["method", "level", "horizon"], as_index=False)[["error", "actual"]].sum()
    sums["wape"] = sums["error"] / sums["actual"].where(sums["actual"] > 0)
    by_category = sums[sums["level"] == "category"].groupby("method")[["error", "actual"]].sum()
    method = str((by_category["error"] / by_category["actual"]).idxmin())
    log.info("reconciliation: %s (category WAPE %s)", method,
             ", ".join(f"{m} {e / a:.3f}" for m, (e, a) in by_category.iterrows()))
    return Hierarchy(method if forced == "auto" else forced, sums[["method", "level", "horizon", "wape"]])


def upper_errors(above: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Actuals and forecasts of the upper series over earlier days, rows [total, *categories]."""
    wide = above.pivot_table(index="product_id", columns="target_date", values=["actual", "predicted"],
                             aggfunc="sum")
    categories = sorted(s for s in wide.index if s != TOTAL)
    order = [TOTAL, *categories]
    wide = wide.reindex(order).fillna(0.0)
    return wide["actual"].to_numpy(dtype=float), wide["predicted"].to_numpy(dtype=float), categories


def _coherent(scored: pd.DataFrame, above: pd.DataFrame, weights: tuple[np.ndarray, np.ndarray, list[str]],
              method: str) -> np.ndarray:
    """The product forecasts under ``method`` (bottom-up leaves them as they are)."""
    if method == BOTTOM_UP or weights[0].shape[1] < 2:
        return scored["predicted"].to_numpy(dtype=float).copy()
    return reconcile_days(scored, above, weights)


def reconcile_days(products: pd.DataFrame, base: pd.DataFrame,
                   weights: tuple[np.ndarray, np.ndarray, list[str]]) -> np.ndarray:
    """``products`` (target_date, category, predicted) after MinT then split, day by day: ``base``
    holds the upper series' own forecasts (product_id: TOTAL or a category, target_date,
    predicted), ``weights`` the earlier errors (:func:`upper_errors`). The weights are fitted once
    for every day: the reconciliation is linear in the day's forecasts."""
    actual_in, fitted_in, categories = weights
    out = products["predicted"].to_numpy(dtype=float).copy()
    days = products.groupby("target_date").indices
    wide = base.pivot_table(index="product_id", columns="target_date", values="predicted", aggfunc="sum")
    wide = wide.reindex(index=[TOTAL, *categories], columns=list(days)).fillna(0.0)
    reconciled = mint(categories, wide.to_numpy(dtype=float), actual_in, fitted_in)
    for column, rows in enumerate(days.values()):
        out[rows] = split(products.iloc[rows], dict(zip(categories, reconciled[:, column], strict=True)))
    return out


def _level_errors(products: pd.DataFrame, method: str, horizon: int) -> list[dict[str, Any]]:
    out = []
    sums = {
        "product": products,
        "category": products.groupby(["category", "target_date"], as_index=False)[["actual", "predicted"]].sum(),
        "total": products.groupby("target_date", as_index=False)[["actual", "predicted"]].sum(),
    }
    for level, frame in sums.items():
        out.append({"method": method, "level": level, "horizon": str(horizon),
                    "error": float(np.abs(frame["actual"] - frame["predicted"]).sum()),
                    "actual": float(np.abs(frame["actual"]).sum())})
    return out
