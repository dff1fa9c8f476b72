"""Demand forecasting: models, horizon, backtests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from salesflow.config.section import Section


class GbmParams(Section):
    n_estimators: int = Field(150, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(50, ge=1)
    max_bin: int = Field(63, ge=2)
    subsample: float = Field(0.6, gt=0, le=1)
    """Share of rows each tree sees (bagging): faster, and a little regularising."""
    objective: Literal["tweedie", "poisson", "regression"] = "tweedie"
    """Tweedie suits daily unit counts: many zeros, a long right tail."""


class ForecastConfig(Section):
    folds: int = Field(4, ge=1)
    """Rolling origins in the backtest."""
    fold_days: int = Field(7, ge=1)
    """Days scored after each origin."""
    min_train_days: int = Field(35, ge=14)
    """History needed before the first origin."""
    interval: float = Field(0.9, gt=0, lt=1)
    """Central coverage of the prediction intervals (from backtest residuals)."""
    ridge_alpha: float = Field(1.0, ge=0)
    gbm: GbmParams = GbmParams()
    level: Literal["product", "category", "store-category"] = "product"
    """Forecast each product, each category as one series (its products' units added up), or each
    store's category (from Silver's order lines, which carry the store)."""
    top_n: int | None = Field(None, ge=1)
    """Forecast only the N best-selling products (by ``rank_by``); the rest are left out, not zeroed."""
    rank_by: Literal["revenue", "units"] = "revenue"
    min_history_days: int = Field(0, ge=0)
    """Leave out products first sold fewer than this many days before the last day of data."""
    products_file: str | None = None
    """A file of product ids (one per line; # comments) to forecast, before the other filters."""
    delisted_after_days: int = Field(91, ge=7)
    """A product with no sale for this many days is taken as delisted: its series stops (no zeros
    padded after it) and it is not forecast. Intermittent methods still see its whole history."""
    max_panel_series: int = Field(5_000, ge=10)
    """Series the feature panel (LightGBM, ridge, seasonal naive and the backtest that compares
    every kind) covers at most: above it, a sample stratified by demand class, so memory follows
    this number, not the catalogue. Intermittent methods and prediction serve every series."""
    reconciliation: Literal["auto", "bottom_up", "mint_split"] = "auto"
    """How product, category and total forecasts are made to add up: the one with the lower
    category-level WAPE in the backtest (auto), or the one named (forecast.hierarchy)."""
    registry: str | None = None
    """Model registry directory. Default: ``<data_dir>/models``."""
