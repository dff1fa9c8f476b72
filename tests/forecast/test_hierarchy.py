"""Forecasts that add up: the split keeps each category's number exactly, MinT is chosen when the
upper levels forecast better than the products' sum, and a MinT model's predictions add up."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from salesflow.config import load_settings
from salesflow.forecast.hierarchy import BOTTOM_UP, MINT, TOTAL, backtest_hierarchy, mint, split
from salesflow.jobs.forecast import predict, train
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DAILY_SALES
from tests.forecast.test_catalogue import catalogue


@settings(max_examples=60, deadline=None)
@given(forecasts=st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 50)), min_size=1, max_size=30),
       totals=st.fixed_dictionaries({c: st.floats(0, 500) for c in "abc"}))
def test_the_split_adds_up_to_each_category_exactly(forecasts: list[tuple[str, float]],
                                                    totals: dict[str, float]) -> None:
    products = pd.DataFrame(forecasts, columns=["category", "predicted"])
    out = split(products, totals)
    assert (out >= 0).all()
    for category, rows in products.groupby("category").indices.items():
        assert np.isclose(out[rows].sum(), totals[category], rtol=1e-9, atol=1e-9)
        own = products["predicted"].to_numpy()[rows]
        if own.sum() > 0:  # the products keep their proportions
            assert np.allclose(out[rows] * own.sum(), own * totals[category], rtol=1e-9, atol=1e-6)


def test_mint_is_coherent_and_chosen_when_the_upper_levels_forecast_better() -> None:
    rng = np.random.default_rng(4)
    days = [date(2026, 3, 1) + timedelta(days=d) for d in range(21)]
    bottom, upper = [], []
    for d, day in enumerate(days):
        truth = {c: {p: float(rng.poisson(4)) for p in range(5)} for c in ("x", "y")}
        for c, products in truth.items():
            for p, units in products.items():  # products forecast high, by a lot
                bottom.append({"fold": d // 7, "horizon": 1, "target_date": day, "product_id": f"{c}{p}",
                               "category": c, "actual": units, "predicted": units * 1.8 + 1})
            upper.append({"fold": d // 7, "horizon": 1, "target_date": day, "product_id": c,
                          "actual": sum(products.values()), "predicted": sum(products.values()) + rng.normal(0, 1)})
        whole = sum(sum(p.values()) for p in truth.values())
        upper.append({"fold": d // 7, "horizon": 1, "target_date": day, "product_id": TOTAL, "actual": whole,
                      "predicted": whole + rng.normal(0, 1)})
    chosen = backtest_hierarchy(pd.DataFrame(bottom), pd.DataFrame(upper))
    assert chosen.method == MINT
    wape = chosen.scores.set_index(["method", "level"])["wape"]
    assert wape[(MINT, "category")] < 0.1 < wape[(BOTTOM_UP, "category")]
    assert backtest_hierarchy(pd.DataFrame(bottom), pd.DataFrame(upper), "bottom_up").method == BOTTOM_UP

    frame = pd.DataFrame(upper)
    actual = frame.pivot(index="product_id", columns="target_date", values="actual").reindex([TOTAL, "x", "y"])
    fitted = frame.pivot(index="product_id", columns="target_date", values="predicted").reindex([TOTAL, "x", "y"])
    categories = mint(["x", "y"], np.array([[30.0], [14.0], [15.0]]), actual.to_numpy(), fitted.to_numpy())
    assert categories.shape == (2, 1) and (categories >= 0).all()
    assert 25 < categories.sum() < 33  # between the categories' own sum (29) and the total's base (30)


def test_a_mint_model_splits_each_category_over_its_products(tmp_path: Path) -> None:
    """Trained twice on one catalogue, once each way: the MinT version's products keep the
    bottom-up version's proportions within each category and day, with new category totals."""
    answers = {}
    for method in (BOTTOM_UP, MINT):
        settings = load_settings(data_dir=tmp_path / method, forecast={"folds": 3, "reconciliation": method})
        Lake(settings.lake_root).replace_rows(GOLD_DAILY_SALES, catalogue(60, 90), "true")
        result = train(settings, kinds=("seasonal_naive", "lightgbm"), promote="lightgbm")
        directory = settings.registry_dir / "forecast" / result.versions["lightgbm"]
        assert (directory / "upper.json").exists() == (method == MINT)
        answers[method] = predict(settings).table.to_pandas().sort_values(["target_date", "product_id"])
    bu, mt = answers[BOTTOM_UP], answers[MINT]
    assert list(bu["product_id"]) == list(mt["product_id"])
    assert (mt["lower_units"] <= mt["predicted_units"]).all() and (mt["predicted_units"] <= mt["upper_units"]).all()
    changed = 0
    for (_day, _category), rows in bu.groupby(["target_date", "category"]).groups.items():
        a, b = bu.loc[rows, "predicted_units"].to_numpy(), mt.loc[rows, "predicted_units"].to_numpy()
        if a.sum() > 0:
            assert np.allclose(b * a.sum(), a * b.sum(), rtol=1e-9, atol=1e-6)
        changed += not np.isclose(a.sum(), b.sum())
    assert changed > 0  # MinT moved category numbers, so the check above is not vacuous
