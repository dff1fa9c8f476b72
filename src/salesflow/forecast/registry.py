"""Trained models on disk: one directory per version with a manifest; one of them promoted.

    <registry>/forecast/<version>/manifest.json   kind, horizons, data range, features, metrics,
                                                  parameters, data fingerprint, intervals
    <registry>/forecast/<version>/<model files>   LightGBM text model, ridge coefficients (JSON)
    <registry>/forecast/promoted.json             {"version": ...}

Versions start with the UTC training time, so they sort oldest to newest. Nothing is pickled:
a model file is data, not code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from salesflow.common.files import atomic_write
from salesflow.config import ForecastConfig
from salesflow.forecast.backtest import ForecastError
from salesflow.forecast.features import HORIZONS
from salesflow.forecast.kinds import make
from salesflow.forecast.models import Forecaster


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root / "forecast"

    def save(self, version: str, manifest: dict[str, Any], models: dict[int, Forecaster]) -> Path:
        directory = self.root / version
        for horizon, model in models.items():
            (directory / f"h{horizon}").mkdir(parents=True, exist_ok=True)
            model.save(directory / f"h{horizon}")
        atomic_write(directory / "manifest.json", json.dumps({**manifest, "version": version}, indent=1,
                                                              default=str).encode())
        return directory

    def manifests(self) -> list[dict[str, Any]]:
        if not self.root.exists():
            return []
        found = [json.loads(p.read_text()) for p in sorted(self.root.glob("*/manifest.json"))]
        promoted = self.promoted()
        return [{**m, "promoted": m["version"] == promoted} for m in found]

    def promote(self, version: str) -> None:
        if not (self.root / version / "manifest.json").exists():
            raise ForecastError(f"no model version {version!r} in {self.root}")
        atomic_write(self.root / "promoted.json", json.dumps({"version": version}).encode())

    def promoted(self) -> str | None:
        path = self.root / "promoted.json"
        return str(json.loads(path.read_text())["version"]) if path.exists() else None

    def load(self, version: str | None, config: ForecastConfig) -> tuple[dict[str, Any], dict[int, Forecaster]]:
        chosen = version or self.promoted()
        if chosen is None:
            raise ForecastError("no promoted model: run `salesflow forecast train` first")
        path = self.root / chosen / "manifest.json"
        if not path.exists():
            raise ForecastError(f"no model version {chosen!r} in {self.root}")
        manifest = json.loads(path.read_text())
        models = {}
        for horizon in HORIZONS:
            model = make(manifest["kind"], config)
            model.load(self.root / chosen / f"h{horizon}")
            models[horizon] = model
        return manifest, models
