"""Every forecaster by name: the feature models and the intermittent-demand methods."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesflow.config import ForecastConfig
from salesflow.forecast.demand_classes import UNSEEN_CLASS, class_of
from salesflow.forecast.intermittent import INTERMITTENT
from salesflow.forecast.models import Forecaster, GbmForecaster, RidgeForecaster, SeasonalNaive

FEATURE_KINDS = (SeasonalNaive.KIND, RidgeForecaster.KIND, GbmForecaster.KIND)
INTERMITTENT_KINDS = tuple(INTERMITTENT)
KINDS = (*FEATURE_KINDS, *INTERMITTENT_KINDS)
BY_CLASS = "by_class"
"""Not a model of its own: per demand class, the kind whose backtest WAPE was lowest there."""


def make(kind: str, config: ForecastConfig) -> Forecaster:
    if kind == SeasonalNaive.KIND:
        return SeasonalNaive()
    if kind == RidgeForecaster.KIND:
        return RidgeForecaster(config.ridge_alpha)
    if kind == GbmForecaster.KIND:
        return GbmForecaster(config)
    if kind in INTERMITTENT:
        return INTERMITTENT[kind]()
    if kind == BY_CLASS:
        return ByClass(config)
    raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")


class ByClass(Forecaster):
    """Per demand class, the kind the backtest found best there: a lumpy product gets TSB, a
    smooth one LightGBM. Each chosen kind is fitted on every series (as in the backtest) and
    answers for its classes' products."""

    KIND = BY_CLASS

    def __init__(self, config: ForecastConfig, choice: dict[str, str] | None = None,
                 classes: dict[str, str] | None = None, models: dict[str, Forecaster] | None = None) -> None:
        self.config = config
        self.choice = choice or {}
        self.classes = classes or {}
        self.models = models if models is not None else {k: make(k, config) for k in set(self.choice.values())}

    def attach(self, series: Any, horizon: int) -> None:
        for model in self.models.values():
            model.attach(series, horizon)

    def fit(self, frame: pd.DataFrame) -> None:
        for model in self.models.values():
            model.fit(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        of = class_of(frame["product_id"], self.classes).to_numpy()
        out = np.zeros(len(frame))
        for cls in np.unique(of):
            rows = of == cls
            kind = self.choice.get(str(cls), self.choice.get(UNSEEN_CLASS, next(iter(self.models))))
            out[rows] = self.models[kind].predict(frame[rows])
        return out

    def save(self, directory: Path) -> None:
        (directory / "by_class.json").write_text(json.dumps({"choice": self.choice, "classes": self.classes}))
        for kind, model in self.models.items():
            (directory / kind).mkdir(exist_ok=True)
            model.save(directory / kind)

    def load(self, directory: Path) -> None:
        state = json.loads((directory / "by_class.json").read_text())
        self.choice, self.classes = state["choice"], state["classes"]
        self.models = {k: make(k, self.config) for k in set(self.choice.values())}
        for kind, model in self.models.items():
            model.load(directory / kind)

    def params(self) -> dict[str, Any]:
        return {"choice": self.choice, **{kind: m.params() for kind, m in self.models.items()}}
