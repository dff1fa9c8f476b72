"""Forecasters made for intermittent demand: Croston, SBA and TSB, from Nixtla's statsforecast.

A product that sells on one day in five has a daily series of mostly zeros, and a model of the
day's units chases them. These methods smooth two things apart: the size of a sale and the gap
between sales (Croston; SBA corrects Croston's upward bias), or the chance of a sale on a day and
its size (TSB, which also decays towards zero for a product that stopped selling). Their forecast
is flat: one level per product, made after each day.

Their parameters are fixed (statsforecast's smoothing constants), so each level is a pure recursion
over the days before it: one pass over a product's whole history gives the forecast made after
every day, and no level sees a later day (a prefix of the series gives the same levels; tested).
The backtest and prediction look up the level made ``horizon`` days before the target, the origin
the feature models use. ADIDA and IMAPA are left out: they fit their aggregation and smoothing on
the series they are given, so one pass would leak, and a refit per backtest day costs thirteen
passes per fold.

A series runs over the shop's open days from the product's first sale: days before it are not
demand, and closures are no market.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesflow.forecast.demand_classes import label
from salesflow.forecast.models import Forecaster

log = logging.getLogger(__name__)


@dataclass
class Series:
    """Units per product over open days, from each product's first sale to ``days[-1]``, packed:
    product ``i`` is ``values[offsets[i]:offsets[i+1]]`` over ``days[starts[i]:]``."""

    products: np.ndarray
    """Product ids, sorted."""
    days: np.ndarray
    """The shop's open days (datetime64[D]), ascending."""
    starts: np.ndarray
    offsets: np.ndarray
    values: np.ndarray
    levels: dict[str, np.ndarray] = field(default_factory=dict)
    """Per method, the level made after each day (aligned with ``values``), computed once."""

    def level_after(self, method: str) -> np.ndarray:
        if method not in self.levels:
            self.levels[method] = _run(self, method)
        return self.levels[method]

    def lookup(self, method: str, product_ids: np.ndarray, targets: np.ndarray, horizon: int) -> np.ndarray:
        """The level made ``horizon`` days before each target (its latest open day on or before),
        0 where the product had not sold yet or is unknown."""
        levels = self.level_after(method)
        index = np.searchsorted(self.products, product_ids)
        index = np.minimum(index, len(self.products) - 1)
        known = self.products[index] == product_ids
        cut = np.asarray(targets, dtype="datetime64[D]") - np.timedelta64(horizon, "D")
        day = np.searchsorted(self.days, cut, side="right") - 1
        position = day - self.starts[index]
        length = self.offsets[index + 1] - self.offsets[index]
        ok = known & (position >= 0) & (day >= 0)
        at = self.offsets[index] + np.clip(position, 0, np.maximum(length - 1, 0))
        return np.where(ok, levels[np.minimum(at, len(levels) - 1)], 0.0).astype(float)

    def classes(self, until: date) -> pd.Series:
        """Each product's demand class from its days up to ``until`` (forecast.demand_classes),
        computed on the packed arrays a block of products at a time: no frame of product-days."""
        seen = np.searchsorted(self.days, np.datetime64(until, "D"), side="right") - self.starts
        seen = np.clip(seen, 0, np.diff(self.offsets))
        count, total, squares = (np.zeros(len(self.products)) for _ in range(3))
        for first in range(0, len(self.products), CLASS_BLOCK):
            block = np.arange(first, min(first + CLASS_BLOCK, len(self.products)))
            lo = self.offsets[block[0]]
            lengths = np.diff(self.offsets[block[0]:block[-1] + 2])
            owner = np.repeat(block, lengths)
            values = self.values[lo:lo + int(lengths.sum())]
            sold = (np.arange(len(values)) + lo - self.offsets[owner] < seen[owner]) & (values > 0)
            count += np.bincount(owner[sold], minlength=len(self.products))
            total += np.bincount(owner[sold], weights=values[sold], minlength=len(self.products))
            squares += np.bincount(owner[sold], weights=values[sold].astype(float) ** 2, minlength=len(self.products))
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / count
            cv2 = np.where(count > 0, np.maximum(squares / count - mean ** 2, 0.0) / mean ** 2, np.inf)
            adi = np.where(count > 0, seen / count, np.inf)
        known = seen > 0
        return pd.Series(label(adi[known], cv2[known]), index=self.products[known], name="demand_class")


def build_series(daily: pa.Table, last_day: date, closures: list[date]) -> Series:
    """From gold.daily_sales rows (product_id, event_date, units) up to ``last_day``."""
    rows = daily.filter(pc.field("event_date") <= last_day).select(["product_id", "event_date", "units"])
    first = pc.min(rows["event_date"]).as_py()
    span = np.arange(np.datetime64(first, "D"), np.datetime64(last_day, "D") + 1)
    days = span[~np.isin(span, np.array(closures, dtype="datetime64[D]"))] if closures else span
    encoded = rows["product_id"].combine_chunks().dictionary_encode()  # no Python string per row
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    products, codes = names[order], rank[encoded.indices.to_numpy()]
    day_index = np.searchsorted(days, rows["event_date"].to_numpy().astype("datetime64[D]"))
    starts = np.full(len(products), len(days), dtype=np.int64)
    np.minimum.at(starts, codes, day_index)
    offsets = np.concatenate([[0], np.cumsum(len(days) - starts)]).astype(np.int64)
    values = np.zeros(offsets[-1], dtype=np.float32)
    np.add.at(values, offsets[codes] + day_index - starts[codes], rows["units"].to_numpy().astype(np.float32))
    return Series(products.astype(str), days, starts, offsets, values)


def _model(method: str) -> Any:
    from statsforecast.models import TSB, CrostonClassic, CrostonSBA

    makers: dict[str, Callable[[], Any]] = {
        "croston": CrostonClassic, "sba": CrostonSBA, "tsb": lambda: TSB(alpha_d=TSB_ALPHA_D, alpha_p=TSB_ALPHA_P)}
    return makers[method]()


TSB_ALPHA_D, TSB_ALPHA_P = 0.1, 0.1
"""TSB's smoothing of sizes and of the chance of a sale (statsforecast needs both given)."""
CLASS_BLOCK = 10_000
"""Products whose demand class one block of numpy work computes (memory follows it)."""


def _run(series: Series, method: str) -> np.ndarray:
    """One pass per product: the level after day k is the fitted value of day k + 1, and after the
    last day the forecast. Demand is what sold: a day whose returns outweigh its sales (net units
    below 0) is a day without demand, and a product that never sold has a level of 0 (TSB cannot
    smooth sizes it never saw, and Croston would take a return for a sale)."""
    clock = time.perf_counter()
    model = _model(method)
    out = np.zeros_like(series.values)
    for i in range(len(series.products)):
        lo, hi = series.offsets[i], series.offsets[i + 1]
        y = np.maximum(series.values[lo:hi], 0).astype(np.float64)
        if not y.any():
            continue
        result = model.forecast(y, h=1, fitted=True)
        out[lo:hi - 1] = result["fitted"][1:]
        out[hi - 1] = result["mean"][0]
    np.nan_to_num(out, copy=False)
    log.info("%s levels: %s series, %s series-days in %.1f s", method, f"{len(series.products):,}",
             f"{len(series.values):,}", time.perf_counter() - clock)
    return out


class IntermittentForecaster(Forecaster):
    """A statsforecast method as a salesflow forecaster: nothing to fit (fixed parameters), the
    levels come from the series attached (the history up to the data's last day)."""

    METHOD: ClassVar[str]

    def __init__(self) -> None:
        self.series: Series | None = None
        self.horizon = 1

    def attach(self, series: Series, horizon: int) -> None:
        self.series, self.horizon = series, horizon

    def fit(self, frame: pd.DataFrame) -> None:
        pass  # the levels before each origin are the recursion's; nothing is estimated

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.series is not None, "attach the sales series first"  # noqa: S101 - type narrowing
        return self.series.lookup(self.METHOD, frame["product_id"].to_numpy().astype(str),
                                  pd.to_datetime(frame["target_date"]).to_numpy(), self.horizon)

    def save(self, directory: Path) -> None:
        (directory / "method.json").write_text(json.dumps({"method": self.METHOD, **self.params()}))

    def load(self, directory: Path) -> None:
        pass

    def params(self) -> dict[str, Any]:
        return {"library": "statsforecast", "alpha_d": TSB_ALPHA_D, "alpha_p": TSB_ALPHA_P} if self.METHOD == "tsb" \
            else {"library": "statsforecast", "alpha": 0.1}


class Croston(IntermittentForecaster):
    KIND = METHOD = "croston"


class Sba(IntermittentForecaster):
    KIND = METHOD = "sba"


class Tsb(IntermittentForecaster):
    KIND = METHOD = "tsb"


INTERMITTENT = {cls.KIND: cls for cls in (Croston, Sba, Tsb)}
