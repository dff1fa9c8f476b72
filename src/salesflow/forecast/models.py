"""The feature forecasters behind one small interface: seasonal naive, ridge regression, LightGBM
(the intermittent-demand methods are in forecast.intermittent; forecast.kinds names them all)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from salesflow.config import ForecastConfig
from salesflow.forecast.features import CATEGORICAL, FEATURES, NUMERIC


class Forecaster(ABC):
    KIND: ClassVar[str]

    @abstractmethod
    def fit(self, frame: pd.DataFrame) -> None: ...

    @abstractmethod
    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...

    @abstractmethod
    def save(self, directory: Path) -> None: ...

    @abstractmethod
    def load(self, directory: Path) -> None: ...

    def params(self) -> dict[str, Any]:
        return {}

    def attach(self, series: Any, horizon: int) -> None:
        """The sales series, for methods that forecast from it (forecast.intermittent); the feature
        models need nothing but their frames."""
        return None  # noqa: B027 - a hook: most forecasters have nothing to attach


class SeasonalNaive(Forecaster):
    """Same weekday last week; the week's mean where that day is missing."""

    KIND = "seasonal_naive"

    def fit(self, frame: pd.DataFrame) -> None:
        pass

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        guess = frame["same_weekday_1"].fillna(frame["mean_7"]).fillna(0.0)
        return np.asarray(guess, dtype=float)

    def save(self, directory: Path) -> None:
        pass

    def load(self, directory: Path) -> None:
        pass


class RidgeForecaster(Forecaster):
    """Linear in the numeric features (standardised, missing as 0) plus one-hot weekday."""

    KIND = "ridge"
    CHUNK_ROWS = 200_000

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.coef: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.mean is not None and self.scale is not None  # noqa: S101 - type narrowing
        x = np.nan_to_num((frame[NUMERIC].to_numpy(dtype=float) - self.mean) / self.scale)
        weekday = np.eye(7)[frame["day_of_week"].to_numpy(dtype=int) - 1]
        return np.hstack([np.ones((len(frame), 1)), x, weekday])

    def fit(self, frame: pd.DataFrame) -> None:
        """Normal equations summed over chunks of rows: memory follows the chunk, not the panel."""
        self.mean = np.array([np.nanmean(frame[c].to_numpy(dtype=float)) if frame[c].notna().any() else 0.0
                              for c in NUMERIC])
        self.scale = np.array([np.nanstd(frame[c].to_numpy(dtype=float)) if frame[c].notna().any() else 1.0
                               for c in NUMERIC])
        self.scale[~np.isfinite(self.scale) | (self.scale == 0)] = 1.0
        self.mean[~np.isfinite(self.mean)] = 0.0
        width = 1 + len(NUMERIC) + 7
        gram, moment = np.zeros((width, width)), np.zeros(width)
        for first in range(0, len(frame), self.CHUNK_ROWS):
            part = frame.iloc[first:first + self.CHUNK_ROWS]
            x = self._design(part)
            gram += x.T @ x
            moment += x.T @ part["target"].to_numpy(dtype=float)
        penalty = self.alpha * np.eye(width)
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        self.coef = np.linalg.solve(gram + penalty, moment)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.coef is not None, "fit or load first"  # noqa: S101 - type narrowing
        return np.clip(self._design(frame) @ self.coef, 0.0, None)

    def save(self, directory: Path) -> None:
        assert self.coef is not None and self.mean is not None and self.scale is not None  # noqa: S101 - type narrowing
        (directory / "ridge.json").write_text(json.dumps(
            {"coef": self.coef.tolist(), "mean": self.mean.tolist(), "scale": self.scale.tolist()}))

    def load(self, directory: Path) -> None:
        state = json.loads((directory / "ridge.json").read_text())
        self.coef, self.mean, self.scale = (np.array(state[k]) for k in ("coef", "mean", "scale"))

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class GbmForecaster(Forecaster):
    """One global LightGBM model over every product, products and categories as categorical features."""

    KIND = "lightgbm"

    def __init__(self, config: ForecastConfig) -> None:
        self.config = config.gbm
        self.booster: Any = None

    def fit(self, frame: pd.DataFrame) -> None:
        import lightgbm as lgb

        data = lgb.Dataset(frame[FEATURES].to_numpy(dtype=np.float32), label=frame["target"].to_numpy(dtype=float),
                           feature_name=FEATURES,
                           categorical_feature=CATEGORICAL, free_raw_data=True,
                           params={"max_bin": self.config.max_bin, "verbose": -1})
        self.booster = lgb.train(self._lgb_params(), data, num_boost_round=self.config.n_estimators)

    def _lgb_params(self) -> dict[str, Any]:
        return {"objective": self.config.objective, "learning_rate": self.config.learning_rate,
                "num_leaves": self.config.num_leaves, "min_child_samples": self.config.min_child_samples,
                "max_bin": self.config.max_bin, "verbose": -1, "num_threads": 0, "seed": 7,
                "bagging_fraction": self.config.subsample, "bagging_freq": 1 if self.config.subsample < 1 else 0,
                "deterministic": True, "force_row_wise": True}

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.booster is not None, "fit or load first"  # noqa: S101 - type narrowing
        return np.clip(self.booster.predict(frame[FEATURES].to_numpy(dtype=np.float32)), 0.0, None)

    def save(self, directory: Path) -> None:
        self.booster.save_model(str(directory / "lightgbm.txt"))

    def load(self, directory: Path) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_file=str(directory / "lightgbm.txt"))

    def params(self) -> dict[str, Any]:
        return {**self._lgb_params(), "n_estimators": self.config.n_estimators}
