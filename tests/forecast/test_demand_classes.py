"""Demand classes (ADI and CV²) and the backtest's figures per class."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from salesflow.forecast.backtest import metrics_by_class, score
from salesflow.forecast.demand_classes import classify

DAYS = [date(2026, 7, 1) + timedelta(days=n) for n in range(40)]


def series(product: str, units: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"product_id": product, "target_date": DAYS[:len(units)], "target": units})


def test_the_four_classes_by_the_usual_cut_offs() -> None:
    history = pd.concat([
        series("smooth", [5.0] * 40),                                   # every day, the same size
        series("erratic", [1.0, 20.0] * 20),                            # every day, sizes vary: CV² > 0.49
        series("intermittent", [0.0, 0.0, 0.0, 3.0] * 10),              # every 4th day (ADI 4), same size
        series("lumpy", [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 30.0] * 5),  # rare and of varying size
        series("never", [0.0] * 40),
    ])
    classes = classify(history)
    assert classes.to_dict() == {"erratic": "erratic", "intermittent": "intermittent", "lumpy": "lumpy",
                                 "never": "lumpy", "smooth": "smooth"}


def test_figures_per_class_add_up_to_the_classes_own_errors() -> None:
    rng = np.random.default_rng(3)
    predictions = pd.DataFrame({
        "model": "m", "horizon": np.repeat([1, 7], 40), "fold": np.tile(np.repeat([0, 1], 20), 2),
        "product_id": np.tile(["a", "b", "c", "d"], 20),
        "actual": rng.integers(0, 6, 80).astype(float), "predicted": rng.random(80) * 5})
    classes = pd.Series({"a": "smooth", "b": "smooth", "c": "lumpy"})  # d has no class: counted as lumpy
    table = metrics_by_class(predictions, classes, scale=1.0)
    overall = table[table["horizon"] == "all"].set_index("demand_class")
    assert overall.loc["smooth", "products"] == 2 and overall.loc["lumpy", "products"] == 2
    smooth = predictions[predictions["product_id"].isin(["a", "b"])]
    expected = score(smooth["actual"].to_numpy(), smooth["predicted"].to_numpy(), 1.0)
    assert overall.loc["smooth", "wape"] == pytest.approx(expected["wape"])
    assert set(table["horizon"]) == {"1", "7", "all"}
    # Coverage per class: bands from the class's fold 0, scored on its fold 1.
    assert table[["coverage_80", "coverage_95"]].apply(lambda c: c.between(0, 1)).all().all()
