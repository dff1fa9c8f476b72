"""Forecasting at catalogue scale: `forecast train` and `forecast predict` on 5,000 and 100,000
products x 365 days, each a fresh process in a memory-capped cgroup (4 GiB by default).

The demand history is generated straight into ``gold.daily_sales`` the way a real catalogue looks:
most products sell less than once a day (median rate 0.25 units a day; about 88% under one), some
in packs (lumpy), 30% launched during the year and 10% delisted before its end (no rows before the
launch or after the delisting), weekly and yearly seasonality, and one closed day (25 December: no
sale in the whole shop). Reported per size: wall time, the cgroup's peak and the process's peak
resident set, series per second, the backtest's WAPE per model at 7 days and per demand class, the
interval coverage at 80% and 95%, and the model picked per class.

    python bench/forecast_bench.py --sizes 5000,100000 --cap-gib 4

Needs root for the cgroup (as bench/scale_bench.py); without it the runs are uncapped and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out" / "forecast"
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

from scale_bench import Cgroup, _wait  # noqa: E402

from salesflow.config import load_settings  # noqa: E402
from salesflow.lake.delta import Lake  # noqa: E402
from salesflow.lake.tables import GOLD_DAILY_SALES  # noqa: E402

START = date(2025, 1, 1)
CHUNK = 10_000


def catalogue(products: int, days: int, seed: int = 5) -> pa.Table:
    """gold.daily_sales rows for an intermittent catalogue (see the module docstring)."""
    parts = [_chunk(first, min(CHUNK, products - first), days, seed + first) for first in range(0, products, CHUNK)]
    return pa.concat_tables(parts)


def _chunk(first: int, count: int, days: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    day = np.arange(days)
    dates = np.array([START + timedelta(days=int(d)) for d in day])
    weekday = np.array([d.weekday() for d in dates])
    pattern = np.where(weekday >= 5, 1.4, 1.0) * (1 + 0.2 * np.sin(2 * np.pi * (day - 80) / 365))
    rate = np.exp(rng.normal(np.log(0.25), 1.2, size=count))
    launch = np.where(rng.random(count) < 0.3, rng.integers(0, 300, count), 0)
    delist = np.where(rng.random(count) < 0.1, rng.integers(100, days, count), days)
    live = (day[None, :] >= launch[:, None]) & (day[None, :] < delist[:, None])
    sales = rng.poisson(rate[:, None] * pattern[None, :]) * live
    packs = np.where(rng.random(count) < 0.3, rng.choice([2, 6, 12], count), 1)  # lumpy: some sell in packs
    units = sales * np.where(rng.random(sales.shape) < 0.5, packs[:, None], 1)
    closed = dates == date(START.year, 12, 25)
    units[:, closed] = 0
    p, d = np.nonzero(units)
    price = np.round(np.exp(rng.normal(2.5, 0.8, size=count)), 2)
    return pa.table({
        "event_date": pa.array(dates[d], pa.date32()),
        "product_id": pa.array([f"p{first + i:06d}" for i in p]),
        "category": pa.array([f"cat{(first + i) % 50:02d}" for i in p]),
        "units": pa.array(units[p, d].astype(np.int64)),
        "revenue": pa.array(units[p, d] * price[p]),
        "avg_unit_price": pa.array(price[p]),
        "discount_rate": pa.array(np.zeros(len(p))),
    })


def _run(data: Path, args: list[str], cap_gib: float, name: str) -> dict[str, object]:
    """One CLI command in its own capped cgroup; its -v log lines stream through as progress."""
    cgroup = None
    try:
        cgroup = Cgroup(name, int(cap_gib * 1024 ** 3))
    except OSError as exc:
        print(f"  (no cgroup: {exc}; the run is not capped)", file=sys.stderr)
    env = {**os.environ, "SALESFLOW__ENGINE__MEMORY_LIMIT": f"{cap_gib * 0.4:.1f}GB"}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "salesflow", "-v", "--data-dir", str(data), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if cgroup is not None:
        cgroup.add(child.pid)
    out, err, rss_kib = _wait(child, _progress)
    result: dict[str, object] = {"seconds": round(time.perf_counter() - started, 1), "exit_code": child.returncode,
                                 "peak_rss_mib": round(rss_kib / 1024)}
    if cgroup is not None:
        result.update(cgroup_peak_mib=round(cgroup.peak_bytes() / 1024 ** 2), oom_kills=cgroup.oom_kills())
    if child.returncode != 0:
        result["stderr_tail"] = err[-1500:]
    result["stdout"] = out
    return result


def _progress(line: str) -> None:
    """The child's forecast log lines, printed as they come."""
    if line.startswith("forecast:") or "salesflow.forecast" in line or "salesflow.jobs.forecast" in line:
        print("   ", line.rstrip()[-170:], file=sys.stderr, flush=True)


def bench(products: int, days: int, cap_gib: float) -> dict[str, object]:
    data = OUT / f"catalogue-{products}"
    shutil.rmtree(data, ignore_errors=True)
    settings = load_settings(data_dir=data)
    clock = time.perf_counter()
    table = catalogue(products, days)
    Lake(settings.lake_root).replace_rows(GOLD_DAILY_SALES, table, "true")
    per_product = table.group_by("product_id").aggregate([("units", "sum")])["units_sum"].to_numpy()
    result: dict[str, object] = {
        "products": products, "days": days, "daily_sales_rows": table.num_rows, "cap_gib": cap_gib,
        "generate_seconds": round(time.perf_counter() - clock, 1),
        "share_under_one_unit_a_day": round(float(np.mean(per_product < days)), 3)}
    print(f"{products:,} products: {table.num_rows:,} daily rows generated", file=sys.stderr)
    del table
    trained = _run(data, ["forecast", "train", "--json"], cap_gib, f"salesflow-forecast-train-{products}")
    facts = json.loads(str(trained.pop("stdout"))) if trained["exit_code"] == 0 else {}
    result["train"] = trained
    if facts:
        result["train"]["series_per_second"] = round(products / float(str(trained["seconds"])), 1)  # type: ignore[index]
        result["selection"] = facts["selection"]
        result["calendar"] = facts["calendar"]
        result["choice"] = facts["choice"]
        result["reconciliation"] = facts["reconciliation"]
        result["wape_7d"] = {m["model"]: round(m["wape"], 3) for m in facts["metrics"] if m["horizon"] == "7"}
        result["coverage_7d"] = {m["model"]: [round(m["coverage_80"], 3), round(m["coverage_95"], 3)]
                                 for m in facts["metrics"] if m["horizon"] == "7"}
        result["by_class_wape_7d"] = {f"{r['demand_class']}/{r['model']}": round(r["wape"], 3)
                                      for r in facts["by_class"] if r["horizon"] == "7"}
        predicted = _run(data, ["forecast", "predict", "--json"], cap_gib, f"salesflow-forecast-predict-{products}")
        out = json.loads(str(predicted.pop("stdout"))) if predicted["exit_code"] == 0 else {}
        predicted["rows"] = out.get("rows")
        result["predict"] = predicted
    shutil.rmtree(data, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="5000,100000")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cap-gib", type=float, default=4.0)
    args = parser.parse_args()
    results = [bench(int(size), args.days, args.cap_gib) for size in args.sizes.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "forecast.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
