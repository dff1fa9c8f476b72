"""Forecasting: features never see the future, models beat the naive baseline, registry and predictions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from salesflow.config import Settings, load_settings
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.forecast.backtest import apply_class_bands
from salesflow.forecast.demand_classes import CLASSES
from salesflow.forecast.features import FEATURES, HORIZONS, NUMERIC, build_features
from salesflow.forecast.kinds import BY_CLASS, KINDS
from salesflow.forecast.registry import Registry
from salesflow.jobs import run_batch
from salesflow.jobs.forecast import predict, train
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DEMAND_PREDICTIONS
from salesflow.simulator import SimulationSpec
from tests.conftest import land


def synthetic_daily(products: int, days: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = date(2026, 1, 1)
    rows = {"event_date": [], "product_id": [], "category": [], "units": [], "avg_unit_price": [], "discount_rate": []}
    for p in range(products):
        base = rng.uniform(1, 20)
        for d in range(days):
            units = rng.poisson(base * (1.4 if (start + timedelta(days=d)).weekday() >= 5 else 1.0))
            if units == 0:
                continue  # gold.daily_sales has no row for a day without sales
            rows["event_date"].append(start + timedelta(days=d))
            rows["product_id"].append(f"p{p}")
            rows["category"].append(f"c{p % 3}")
            rows["units"].append(int(units))
            rows["avg_unit_price"].append(float(10 + p))
            rows["discount_rate"].append(float(rng.choice([0.0, 0.0, 0.2])))
    return pa.table({**rows, "event_date": pa.array(rows["event_date"], pa.date32()),
                      "units": pa.array(rows["units"], pa.int64())})


@pytest.mark.parametrize("horizon", HORIZONS)
def test_features_for_day_d_use_only_data_up_to_the_origin(horizon: int) -> None:
    """Scramble every sale after a cutoff: the features of each target whose origin is on or before
    the cutoff must not move. Then check the converse: features after the cutoff do change."""
    daily = synthetic_daily(products=6, days=80)
    cutoff = date(2026, 2, 15)
    after = pa.compute.greater(daily["event_date"], pa.scalar(cutoff, pa.date32()))
    rng = np.random.default_rng(3)
    scrambled_units = [u + int(rng.integers(1, 50)) if a else u
                       for u, a in zip(daily["units"].to_pylist(), after.to_pylist(), strict=True)]
    scrambled = daily.set_column(daily.schema.get_field_index("units"), "units",
                                 pa.array(scrambled_units, pa.int64()))
    prices = [p * 3 if a else p for p, a in zip(daily["avg_unit_price"].to_pylist(), after.to_pylist(), strict=True)]
    scrambled = scrambled.set_column(scrambled.schema.get_field_index("avg_unit_price"), "avg_unit_price",
                                     pa.array(prices, pa.float64()))
    with DuckDBEngine() as engine:
        original = build_features(engine, daily, horizon)
        changed = build_features(engine, scrambled, horizon)
    key = ["product_id", "target_date"]
    merged = original.merge(changed, on=key, suffixes=("", "_x"))
    merged["target_date"] = pd.to_datetime(merged["target_date"])
    known = merged[merged["target_date"] - pd.Timedelta(days=horizon) <= pd.Timestamp(cutoff)]
    later = merged[merged["target_date"] - pd.Timedelta(days=horizon) > pd.Timestamp(cutoff)]
    assert len(known) > 200 and len(later) > 100
    for column in NUMERIC:
        a, b = known[column].to_numpy(dtype=float), known[f"{column}_x"].to_numpy(dtype=float)
        assert np.allclose(a, b, equal_nan=True), f"{column} saw data after its origin (h={horizon})"
    assert not np.allclose(later["lag_1"], later["lag_1_x"], equal_nan=True)  # the test can fail
    # The target itself is the day's own units: that one must differ after the cutoff.
    assert (known[known["target_date"] > pd.Timestamp(cutoff)]["target"] !=
            known[known["target_date"] > pd.Timestamp(cutoff)]["target_x"]).any()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("forecast") / "data"
    settings = load_settings(data_dir=data, forecast={"folds": 3})
    land(settings, SimulationSpec(events=300_000, seed=11, start=date(2026, 6, 1), days=70))
    run_batch(settings)
    return settings


@pytest.mark.slow
def test_gradient_boosting_beats_seasonal_naive_and_is_promoted(trained: Settings) -> None:
    result = train(trained)
    backtest = result.backtest
    gbm, naive = backtest.metrics.set_index(["model", "horizon"]).loc["lightgbm"], \
        backtest.metrics.set_index(["model", "horizon"]).loc["seasonal_naive"]
    improvement = 1 - gbm.loc["7", "wape"] / naive.loc["7", "wape"]
    assert improvement >= 0.15, f"lightgbm WAPE {gbm.loc['7', 'wape']:.3f} vs naive {naive.loc['7', 'wape']:.3f}"
    assert set(backtest.metrics["horizon"]) == {"1", "7", "all"}
    assert len(backtest.cutoffs) == 3
    for column in ("mae", "rmse", "wape", "mase", "r2"):
        assert backtest.metrics[column].notna().all()
    assert 0.75 <= gbm.loc["7", "coverage"] <= 0.99  # 90% intervals, checked out of sample
    # Split-conformal bands per demand class, fitted on the earlier folds, checked on the last one.
    assert abs(gbm.loc["7", "coverage_80"] - 0.80) <= 0.05 and abs(gbm.loc["7", "coverage_95"] - 0.95) <= 0.05

    registry = Registry(trained.registry_dir)
    manifests = {m["kind"]: m for m in registry.manifests()}
    assert set(manifests) == {*KINDS, BY_CLASS}
    # The per-class pick is the lowest error in each class, so never worse than one model overall.
    assert backtest.wape(BY_CLASS) <= min(backtest.wape(k) for k in KINDS)
    assert result.promoted == manifests[BY_CLASS]["version"] and manifests[BY_CLASS]["promoted"]
    chosen = backtest.metrics.set_index(["model", "horizon"]).loc[BY_CLASS]
    assert 1 - chosen.loc["7", "wape"] / naive.loc["7", "wape"] >= 0.15
    assert abs(chosen.loc["7", "coverage_80"] - 0.80) <= 0.05 and abs(chosen.loc["7", "coverage_95"] - 0.95) <= 0.05
    assert set(backtest.choice) <= set(CLASSES) and set(backtest.choice.values()) <= set(KINDS)
    assert manifests[BY_CLASS]["params"]["choice"] == backtest.choice
    m = manifests["lightgbm"]
    # The simulated history's last day, 2026-08-09, stops at 19:26 (every day before ran to 23:00 or
    # later): partial, so the model learned up to the day before.
    assert m["data_from"] == "2026-06-01" and m["data_to"] == "2026-08-08"
    assert "the last day 2026-08-09 is partial and left out" in m["calendar"]
    assert m["features"] == FEATURES and len(m["data_fingerprint"]) == 64
    assert m["params"]["n_estimators"] == trained.forecast.gbm.n_estimators
    assert {r["horizon"] for r in m["metrics"]} == {"1", "7", "all"}


@pytest.mark.slow
def test_predictions_reach_gold_and_the_warehouse_idempotently(trained: Settings) -> None:
    if Registry(trained.registry_dir).promoted() is None:
        train(trained, kinds=("seasonal_naive", "lightgbm"))
    first = predict(trained)
    lake = Lake(trained.lake_root)
    gold = lake.read(GOLD_DEMAND_PREDICTIONS)
    assert gold is not None and gold.num_rows == first.rows
    products = len(set(gold["product_id"].to_pylist()))
    assert first.rows == products * 7 and sorted(set(gold["horizon_days"].to_pylist())) == list(range(1, 8))
    assert first.forecast_date == date(2026, 8, 8)  # the last full day: 2026-08-09 is partial, and forecast
    frame = gold.to_pandas()
    assert (frame["lower_units"] <= frame["predicted_units"]).all()
    assert (frame["predicted_units"] <= frame["upper_units"]).all() and (frame["lower_units"] >= 0).all()
    manifest = next(m for m in Registry(trained.registry_dir).manifests() if m["promoted"])
    ones = frame[frame["horizon_days"] == 1]
    of = ones["product_id"].map(manifest["demand_classes"]).fillna("lumpy").to_numpy()
    assert len(set(of)) >= 2  # the catalogue has more than one demand class
    low, high = apply_class_bands(manifest["intervals_by_class"]["1"], manifest["intervals"]["1"],
                                  ones["predicted_units"].to_numpy(), of)
    assert np.allclose(low, ones["lower_units"]) and np.allclose(high, ones["upper_units"])  # per-class bands
    predict(trained)  # a rerun replaces its own rows
    assert lake.read(GOLD_DEMAND_PREDICTIONS).num_rows == first.rows  # type: ignore[union-attr]

    load_warehouse(trained)
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(trained.data_dir), "query",
                             "demand_vs_actual", "--param", "horizon_days=7", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["target_date"] for r in rows} == {"2026-08-15"}
    assert abs(sum(r["predicted_units"] for r in rows) -
               frame[frame["horizon_days"] == 7]["predicted_units"].sum()) < 1e-6
    assert all(r["actual_units"] is None for r in rows)  # the future has no actuals yet


def test_too_little_history_is_a_clear_error(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    land(settings, SimulationSpec(events=5_000, seed=2, days=10))
    run_batch(settings)
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings.data_dir), "forecast",
                             "evaluate"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "days of sales history; a backtest needs at least" in result.stderr
    empty = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(tmp_path / "none"), "forecast",
                            "predict"], capture_output=True, text=True, timeout=120)
    assert empty.returncode == 1 and "no promoted model" in empty.stderr and "Traceback" not in empty.stderr


@pytest.mark.slow
def test_demand_vs_actual_agrees_on_duckdb_and_postgres(trained: Settings, postgres_admin_url: str) -> None:
    """Forecasts made, then more days loaded: both warehouses answer demand_vs_actual the same."""
    from salesflow.analytics import run_query
    from salesflow.warehouse.targets import connect
    from tests.pg import new_database

    if Registry(trained.registry_dir).promoted() is None:
        train(trained, kinds=("seasonal_naive", "lightgbm"))
    predict(trained)
    pg = load_settings(data_dir=trained.data_dir, forecast={"folds": 3},
                       warehouse={"url": new_database(postgres_admin_url)})
    answers = []
    for settings in (trained, pg):
        load_warehouse(settings)
        with connect(settings) as target:
            rows = run_query(target, "demand_vs_actual", {"horizon_days": "1"}).to_pylist()
        answers.append(sorted((str(r["target_date"]), r["category"], round(float(r["predicted_units"]), 6))
                              for r in rows))
    assert answers[0] == answers[1] and len(answers[0]) >= 10
