"""Forecast benchmark: features, training and prediction for 5,000 products x 365 days on this machine.

The demand history is generated straight into ``gold.daily_sales`` (weekly and yearly seasonality,
a trend, promotions that lift demand, Poisson noise, days without sales left out as the pipeline
leaves them out), then timed: the SQL features for both horizons, LightGBM and ridge fits on
every row (the production fit, as `forecast train` does after its backtest), and `forecast
predict` (features as of the last day, 7 days of predictions with intervals, written to gold).
A 3-fold backtest on the same data reports the WAPE of each model beside the seasonal naive.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
sys.path.insert(0, str(ROOT.parent / "src"))

from salesflow.config import load_settings  # noqa: E402
from salesflow.engine.duckdb import DuckDBEngine  # noqa: E402
from salesflow.forecast.backtest import run_backtest  # noqa: E402
from salesflow.forecast.features import HORIZONS, build_features, encode  # noqa: E402
from salesflow.forecast.models import make  # noqa: E402
from salesflow.jobs.forecast import predict, train  # noqa: E402
from salesflow.lake.delta import Lake  # noqa: E402
from salesflow.lake.tables import GOLD_DAILY_SALES  # noqa: E402


def history(products: int, days: int, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = date(2025, 1, 1)
    day = np.arange(days)
    weekday = np.array([(start + timedelta(days=int(d))).weekday() for d in day])
    weekly = np.where(weekday >= 5, 1.35, 1.0) * (1 + 0.05 * np.sin(2 * np.pi * weekday / 7))
    yearly = 1 + 0.25 * np.sin(2 * np.pi * (day - 80) / 365)
    base = rng.lognormal(mean=0.8, sigma=0.9, size=products)
    trend = 1 + rng.normal(0, 0.3, size=products)[:, None] * day[None, :] / days
    promo = np.zeros((products, days))
    for p in range(products):  # a few promotions a year per product, 3-5 days, 10-30% off
        for first in rng.choice(days - 5, size=4, replace=False):
            promo[p, first:first + rng.integers(3, 6)] = rng.choice([0.1, 0.2, 0.3])
    rate = base[:, None] * weekly[None, :] * yearly[None, :] * np.clip(trend, 0.2, None) * (1 + 2.5 * promo)
    units = rng.poisson(rate)
    p_idx, d_idx = np.nonzero(units)
    price = 5 + (np.arange(products) % 97)
    return pa.table({
        "event_date": pa.array([start + timedelta(days=int(d)) for d in d_idx], pa.date32()),
        "product_id": pa.array([f"p{p:05d}" for p in p_idx]),
        "category": pa.array([f"cat{p % 12:02d}" for p in p_idx]),
        "units": pa.array(units[p_idx, d_idx].astype(np.int64)),
        "revenue": pa.array(units[p_idx, d_idx] * price[p_idx] * (1 - promo[p_idx, d_idx])),
        "avg_unit_price": pa.array(price[p_idx].astype(float)),
        "discount_rate": pa.array(promo[p_idx, d_idx]),
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--no-backtest", action="store_true")
    args = parser.parse_args()
    data = OUT / "forecast"
    shutil.rmtree(data, ignore_errors=True)
    settings = load_settings(data_dir=data, forecast={"folds": 3})
    table = history(args.products, args.days)
    Lake(settings.lake_root).replace_rows(GOLD_DAILY_SALES, table, "true")
    result: dict[str, object] = {"products": args.products, "days": args.days, "daily_sales_rows": table.num_rows}

    clock = time.perf_counter()
    with DuckDBEngine() as engine:
        frames = {}
        for h in HORIZONS:
            frame = build_features(engine, table, h)
            frames[h] = encode(frame[frame["target"].notna()], sorted(set(table["product_id"].to_pylist())),
                               sorted(set(table["category"].to_pylist())))
    result["features_seconds"] = round(time.perf_counter() - clock, 1)
    result["training_rows_per_horizon"] = len(frames[1])
    for kind in ("lightgbm", "ridge"):
        clock = time.perf_counter()
        for frame in frames.values():
            make(kind, settings.forecast).fit(frame)
        result[f"fit_{kind}_both_horizons_seconds"] = round(time.perf_counter() - clock, 1)
    if not args.no_backtest:
        clock = time.perf_counter()
        backtest = run_backtest(frames, settings.forecast, ("seasonal_naive", "ridge", "lightgbm"))
        result["backtest_3_folds_seconds"] = round(time.perf_counter() - clock, 1)
        result["backtest_wape_7d"] = {
            m: round(backtest.wape(m, "7"), 3) for m in ("seasonal_naive", "ridge", "lightgbm")
        }
        result["lightgbm_vs_naive_wape_7d"] = round(
            1 - backtest.wape("lightgbm", "7") / backtest.wape("seasonal_naive", "7"), 3
        )
    clock = time.perf_counter()
    trained = train(settings, kinds=("lightgbm",))
    result["forecast_train_lightgbm_seconds"] = round(time.perf_counter() - clock, 1)
    result["forecast_train_breakdown"] = {k: round(v, 1) for k, v in trained.seconds.items()}
    clock = time.perf_counter()
    predicted = predict(settings)
    result["forecast_predict_seconds"] = round(time.perf_counter() - clock, 1)
    result["predictions"] = predicted.rows
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    OUT.mkdir(exist_ok=True)
    (OUT / "forecast.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
