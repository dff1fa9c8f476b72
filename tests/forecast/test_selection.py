"""Which products are forecast: a products file, enough history, the top N sellers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesflow.config import load_settings
from salesflow.config.forecast import ForecastConfig
from salesflow.errors import ConfigError
from salesflow.forecast.backtest import ForecastError
from salesflow.forecast.selection import select_series
from salesflow.jobs import run_batch
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DAILY_SALES, GOLD_DEMAND_PREDICTIONS
from salesflow.simulator import SimulationSpec
from tests.conftest import land

LAST = date(2026, 9, 30)


def daily(rows: list[tuple[str, int, int, str]]) -> pa.Table:
    """(product, days before LAST, units, revenue) -> a gold.daily_sales-shaped table."""
    return pa.table({"event_date": pa.array([LAST - timedelta(days=d) for _, d, _, _ in rows], pa.date32()),
                     "product_id": [p for p, _, _, _ in rows], "category": ["c"] * len(rows),
                     "units": pa.array([u for _, _, u, _ in rows], pa.int64()),
                     "revenue": pa.array([Decimal(r) for _, _, _, r in rows], pa.decimal128(18, 2))})


def chosen(table: pa.Table, **config: object) -> list[str]:
    picked, _ = select_series(table, ForecastConfig(**config))
    return sorted(set(picked["product_id"].to_pylist()))


def test_each_rule_and_their_order(tmp_path: Path) -> None:
    table = daily([("A", 0, 1, "100.00"), ("A", 40, 1, "100.00"), ("B", 0, 50, "10.00"), ("C", 5, 2, "300.00"),
                   ("D", 90, 3, "1.00")])
    assert chosen(table) == ["A", "B", "C", "D"]
    assert chosen(table, top_n=2) == ["A", "C"]  # revenue: C 300, A 200, B 10, D 1
    assert chosen(table, top_n=1, rank_by="units") == ["B"]
    assert chosen(table, min_history_days=30) == ["A", "D"]  # B and C first sold 0 and 5 days ago
    listed = tmp_path / "products.txt"
    listed.write_text("# the ones we plan\nB\nD  # clearance\n\nZ\n")
    assert chosen(table, products_file=str(listed)) == ["B", "D"]
    assert chosen(table, products_file=str(listed), top_n=1) == ["B"]  # the top of the listed ones
    _, selection = select_series(table, ForecastConfig(top_n=2))
    assert selection.describe() == "2 of 4 products (top 2 by revenue)"
    with pytest.raises(ForecastError, match="none of 4"):
        select_series(table, ForecastConfig(min_history_days=365))
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="no product id"):
        select_series(table, ForecastConfig(products_file=str(tmp_path / "empty.txt")))
    with pytest.raises(ConfigError, match="cannot read"):
        select_series(table, ForecastConfig(products_file=str(tmp_path / "missing.txt")))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABCDEFGH"), st.integers(0, 60), st.integers(0, 9),
                          st.integers(0, 9999)), min_size=1, max_size=40), st.integers(1, 8))
def test_top_n_is_the_n_largest_totals(rows: list[tuple[str, int, int, int]], n: int) -> None:
    table = daily([(p, d, u, f"{r / 100:.2f}") for p, d, u, r in rows])
    totals: dict[str, Decimal] = {}
    for p, _, _, r in rows:
        totals[p] = totals.get(p, Decimal(0)) + Decimal(r) / 100
    expected = sorted(sorted(totals, key=lambda p: (-totals[p], p))[:n])
    assert chosen(table, top_n=n) == expected
    picked, _ = select_series(table, ForecastConfig(top_n=n))
    assert picked.num_rows == sum(1 for p, *_ in rows if p in expected)  # every row of a chosen product kept


def test_a_top_n_model_predicts_its_products_only(tmp_path: Path) -> None:
    settings_ = load_settings(data_dir=tmp_path / "d", forecast={"folds": 1})
    land(settings_, SimulationSpec(events=12_000, seed=61, start=date(2026, 7, 1), days=45))
    run_batch(settings_)
    sales = Lake(settings_.lake_root).read(GOLD_DAILY_SALES, columns=["product_id", "revenue"]).to_pandas()
    top = sorted(sales.groupby("product_id")["revenue"].sum().sort_values(ascending=False).index[:5])

    def salesflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings_.data_dir), *args],
                              capture_output=True, text=True, timeout=600)

    trained = salesflow("forecast", "train", "--top", "5", "--models", "seasonal_naive,ridge", "--json")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert json.loads(trained.stdout)["selection"].startswith("5 of ")
    predicted = salesflow("forecast", "predict", "--json")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    origin = date.fromisoformat(json.loads(predicted.stdout)["forecast_date"])
    rows = Lake(settings_.lake_root).read(GOLD_DEMAND_PREDICTIONS).to_pandas()
    assert sorted(set(rows["product_id"])) == top and len(rows) == 5 * 7
    last = max(Lake(settings_.lake_root).read(GOLD_DAILY_SALES, columns=["event_date"])["event_date"].to_pylist())
    # The shop's calendar, not the top five's: the last day of data, or the day before a partial one.
    assert origin in (last, last - timedelta(days=1)) and min(rows["target_date"]) == origin + timedelta(days=1)


def test_category_level_adds_products_up_and_forecasts_categories(tmp_path: Path) -> None:
    table = pa.table({
        "event_date": pa.array([LAST, LAST, LAST, LAST - timedelta(days=1)], pa.date32()),
        "product_id": ["A", "B", "C", "A"], "category": ["x", "x", "y", "x"],
        "units": pa.array([1, 3, 2, 4], pa.int64()),
        "revenue": pa.array([Decimal("10.00"), Decimal("6.00"), Decimal("8.00"), Decimal("40.00")],
                            pa.decimal128(18, 2)),
        "avg_unit_price": [10.0, 2.0, 4.0, 10.0], "discount_rate": [0.0, 0.5, 0.0, 0.1]})
    picked, selection = select_series(table, ForecastConfig(level="category"))
    rows = {(r["event_date"], r["product_id"]): r for r in picked.to_pylist()}
    today = rows[(LAST, "x")]
    assert (today["units"], today["revenue"], today["category"]) == (4, Decimal("16.00"), "x")
    assert today["avg_unit_price"] == pytest.approx((10.0 * 1 + 2.0 * 3) / 4)  # weighed by the units sold
    assert today["discount_rate"] == pytest.approx((0.0 * 1 + 0.5 * 3) / 4)
    assert selection.describe() == "2 of 2 categories"

    settings_ = load_settings(data_dir=tmp_path / "d", forecast={"folds": 1})
    land(settings_, SimulationSpec(events=12_000, seed=62, start=date(2026, 7, 1), days=45))
    run_batch(settings_)
    sales = Lake(settings_.lake_root).read(GOLD_DAILY_SALES, columns=["category", "revenue"]).to_pandas()
    top = sorted(sales.groupby("category")["revenue"].sum().sort_values(ascending=False).index[:3])
    done = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings_.data_dir), "forecast",
                           "train", "--level", "category", "--top", "3", "--models", "seasonal_naive,ridge"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "3 of 10 categories (top 3 by revenue)" in done.stdout, done.stderr[-2000:]
    predicted = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings_.data_dir), "forecast",
                                "predict"], capture_output=True, text=True, timeout=600)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    rows_ = Lake(settings_.lake_root).read(GOLD_DEMAND_PREDICTIONS).to_pandas()
    assert sorted(set(rows_["product_id"])) == top == sorted(set(rows_["category"])) and len(rows_) == 3 * 7


def test_store_category_level_adds_silver_lines_up_per_store_and_category(tmp_path: Path) -> None:
    """Gold has no store: the store-category series come from Silver's lines, each product under the
    category gold.daily_sales last files it; they add up to Gold's units per category and day."""
    from salesflow.forecast.selection import by_store_category, read_store_lines
    from salesflow.lake.tables import SILVER_ORDER_LINES

    settings_ = load_settings(data_dir=tmp_path / "d", forecast={"folds": 1})
    land(settings_, SimulationSpec(events=12_000, seed=63, start=date(2026, 7, 1), days=45))
    run_batch(settings_)
    lake = Lake(settings_.lake_root)
    daily = lake.read(GOLD_DAILY_SALES)
    series = by_store_category(read_store_lines(lake), daily).to_pandas()
    stores = lake.read(SILVER_ORDER_LINES, columns=["store_id"]).to_pandas()["store_id"].nunique()
    assert series["product_id"].str.split("|").str[0].nunique() == stores >= 2
    gold = daily.to_pandas().groupby(["event_date", "category"])["units"].sum()
    mine = series.groupby(["event_date", "category"])["units"].sum()
    assert mine.sort_index().equals(gold.sort_index())  # the same units, split by store
    done = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings_.data_dir), "forecast",
                           "train", "--level", "store-category", "--models", "seasonal_naive,tsb"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "store-category series" in done.stdout, done.stderr[-2000:]
    predicted = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(settings_.data_dir), "forecast",
                                "predict"], capture_output=True, text=True, timeout=600)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    rows_ = lake.read(GOLD_DEMAND_PREDICTIONS).to_pandas()
    per_series = rows_.groupby("product_id")["target_date"].nunique()
    assert set(rows_["product_id"]) <= set(series["product_id"]) and per_series.max() == 7
    assert (per_series == 7).mean() > 0.9  # a series first sold in the last days has no week-old features yet
    assert (rows_["product_id"].str.split("|").str[1] == rows_["category"]).all()
