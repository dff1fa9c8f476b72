"""The analytics suite: same answers on DuckDB and PostgreSQL, and the same as pandas."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from salesflow.analytics import list_queries, load_query, run_query
from salesflow.config import Settings
from salesflow.errors import ParameterError
from salesflow.jobs.warehouse import load_warehouse
from salesflow.lake.delta import Lake
from salesflow.lake.tables import REF_PRODUCTS, SILVER_ORDER_LINES
from salesflow.warehouse.targets import connect

QUERIES = [q.name for q in list_queries()]


@pytest.fixture(scope="module")
def loaded(duck: Settings, pg: Settings) -> tuple[Settings, Settings]:
    load_warehouse(duck)
    load_warehouse(pg)
    return duck, pg


def answer(settings: Settings, name: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    with connect(settings) as target:
        return run_query(target, name, params).to_pylist()


def normalized(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def value(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, float) and math.isnan(v):
            return None
        return v
    return [{k: value(v) for k, v in row.items()} for row in rows]


def assert_rows_equal(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> None:
    assert len(left) == len(right)
    for a, b in zip(normalized(left), normalized(right), strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float) or isinstance(b[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-9), key
            else:
                assert a[key] == b[key], key


def test_the_suite_covers_the_standard_questions() -> None:
    assert set(QUERIES) >= {"daily_revenue", "monthly_revenue_growth", "top_categories", "top_products",
                            "category_growth", "aov_trend", "conversion_funnel", "customer_cohorts",
                            "rfm_segments", "demand_vs_actual"}


@pytest.mark.parametrize("name", QUERIES)
def test_same_answer_on_duckdb_and_postgres(name: str, loaded: tuple[Settings, Settings]) -> None:
    duck, pg = loaded
    left = answer(duck, name)
    assert left or name == "demand_vs_actual"  # no forecasts yet: that one is empty on both
    assert_rows_equal(left, answer(pg, name))


@pytest.mark.parametrize("params", [{"start_date": "2026-08-05", "end_date": "2026-08-20"},
                                    {"top_n": "3"}, {"category": "books", "top_n": "5"}])
def test_parameters_give_the_same_answer_on_both(params: dict[str, str], loaded: tuple[Settings, Settings]) -> None:
    name = "top_products" if "category" in params or "top_n" in params else "daily_revenue"
    duck, pg = loaded
    left = answer(duck, name, params)
    assert left
    assert_rows_equal(left, answer(pg, name, params))


@pytest.fixture(scope="module")
def lines(duck: Settings) -> pd.DataFrame:
    """Silver order lines joined to the catalogue with pandas: independent of the warehouse SQL."""
    lake = Lake(duck.lake_root)
    frame = lake.read(SILVER_ORDER_LINES).to_pandas()  # type: ignore[union-attr]
    products = lake.read(REF_PRODUCTS).to_pandas()  # type: ignore[union-attr]
    frame = frame.merge(products[["product_id", "category"]], on="product_id", how="left")
    frame["revenue"] = frame["revenue"].astype(float)
    return frame


def test_daily_revenue_matches_pandas(loaded: tuple[Settings, Settings], lines: pd.DataFrame) -> None:
    daily = lines.groupby("event_date")["revenue"].sum()
    days = pd.date_range(daily.index.min(), daily.index.max()).date
    daily = daily.reindex(days, fill_value=0.0)
    expected_dod = daily.pct_change(1).replace([math.inf, -math.inf], math.nan)
    expected_wow = daily.pct_change(7).replace([math.inf, -math.inf], math.nan)
    rows = {r["day"]: r for r in normalized(answer(loaded[1], "daily_revenue"))}
    assert set(rows) == set(days)
    for day in days:
        assert rows[day]["revenue"] == pytest.approx(daily[day], abs=0.005)
        for col, expected in (("dod_growth", expected_dod[day]), ("wow_growth", expected_wow[day])):
            if pd.isna(expected):
                assert rows[day][col] is None
            else:
                assert rows[day][col] == pytest.approx(expected, rel=1e-9)


def coverage(lines: pd.DataFrame) -> tuple[bool, bool]:
    """Whether the first and the last day are complete, judged as the warehouse's v_day_coverage
    does: the last day's newest sale no earlier in the day than on each of the 28 days before it,
    the first day likewise by its first sale."""
    times = pd.to_datetime(lines["event_time"], utc=True)
    seconds = (times - times.dt.normalize()).dt.total_seconds().astype(int)
    per_day = lines.assign(second=seconds).groupby("event_date")["second"].agg(["min", "max"]).sort_index()
    return (bool(per_day["min"].iloc[0] <= per_day["min"].iloc[1:29].max()),
            bool(per_day["max"].iloc[-1] >= per_day["max"].iloc[-29:-1].min()))


def test_month_over_month_compares_like_days_as_pandas_does(loaded: tuple[Settings, Settings],
                                                            lines: pd.DataFrame) -> None:
    """Growth compares like periods: a whole month with the whole previous one, the newest partial
    month (month to date, without a last day the data cuts short) with the same days of the
    previous month; none after a month that is not complete."""
    dates = pd.to_datetime(lines["event_date"])
    first, last = dates.min(), dates.max()
    first_ok, last_ok = coverage(lines)
    frame = lines.assign(month=dates.dt.strftime("%Y-%m"), dom=dates.dt.day)

    def complete(month: str) -> bool:
        start = pd.Timestamp(f"{month}-01")
        end = start + pd.offsets.MonthEnd(0)
        return bool(first <= start and last >= end and (first < start or first_ok) and (last > end or last_ok))

    rows = normalized(answer(loaded[1], "monthly_revenue_growth"))
    assert [r["month"] for r in rows] == sorted(set(frame["month"])) and len(rows) >= 2
    for previous, row in zip([None, *rows], rows, strict=False):
        revenue = frame[frame["month"] == row["month"]]["revenue"].sum()
        assert row["revenue"] == pytest.approx(revenue, abs=0.005)
        assert row["complete"] == complete(row["month"])
        starts_first = first <= pd.Timestamp(f"{row['month']}-01")
        through = last.day - (0 if last_ok else 1)
        if previous is None or not complete(previous["month"]) or not starts_first or \
                (not row["complete"] and through < 1):
            assert row["mom_growth"] is None and row["compared_days"] is None
            continue
        now = frame[frame["month"] == row["month"]]
        before = frame[frame["month"] == previous["month"]]
        if not row["complete"]:
            now, before = now[now["dom"] <= through], before[before["dom"] <= through]
            assert row["compared_days"] == f"days 1-{through}"
        assert row["compared_revenue"] == pytest.approx(now["revenue"].sum(), abs=0.005)
        assert row["previous_revenue"] == pytest.approx(before["revenue"].sum(), abs=0.005)
        assert row["mom_growth"] == pytest.approx(now["revenue"].sum() / before["revenue"].sum() - 1)


def test_a_cut_short_first_or_last_day_is_not_complete(loaded: tuple[Settings, Settings],
                                                       lines: pd.DataFrame) -> None:
    """Only the first and last day can be incomplete: the last when its newest sale is earlier in the
    day than every one of the 28 days before it, the first likewise by its first sale."""
    days = sorted(set(lines["event_date"]))
    first_ok, last_ok = coverage(lines)
    for settings in loaded:
        rows = {r["day"]: r["complete"] for r in answer(settings, "daily_revenue")}
        assert rows[days[-1]] == last_ok and rows[days[0]] == first_ok
        assert all(rows[d] for d in days[1:-1])
    cut = answer(loaded[0], "daily_revenue", {"end_date": str(days[-1])})
    assert cut[-1]["complete"] == last_ok  # judged on the data, not on the range asked for


@pytest.mark.parametrize("name", ["monthly_revenue_growth", "category_growth", "conversion_funnel",
                                  "daily_revenue"])
def test_every_sales_figure_takes_the_category_filter(name: str, loaded: tuple[Settings, Settings]) -> None:
    duck, pg = loaded
    everything, books = answer(duck, name), answer(duck, name, {"category": "books"})
    assert books and sum(float(r["revenue" if "revenue" in r else "orders"]) for r in books) < \
        sum(float(r["revenue" if "revenue" in r else "orders"]) for r in everything)
    assert_rows_equal(books, answer(pg, name, {"category": "books"}))


def test_top_categories_match_pandas(loaded: tuple[Settings, Settings], lines: pd.DataFrame) -> None:
    window = lines[(lines["event_date"] >= date(2026, 8, 1)) & (lines["event_date"] <= date(2026, 8, 31))]
    expected = window.groupby("category").agg(revenue=("revenue", "sum"), units=("quantity", "sum"),
                                              orders=("order_id", "nunique"))
    expected = expected.sort_values("revenue", ascending=False).head(5)
    rows = normalized(answer(loaded[0], "top_categories",
                             {"start_date": "2026-08-01", "end_date": "2026-08-31", "top_n": "5"}))
    assert [r["category"] for r in rows] == list(expected.index)
    for row in rows:
        assert row["revenue"] == pytest.approx(expected.loc[row["category"], "revenue"], abs=0.005)
        assert row["units"] == expected.loc[row["category"], "units"]
        assert row["orders"] == expected.loc[row["category"], "orders"]


def test_top_products_match_pandas(loaded: tuple[Settings, Settings], lines: pd.DataFrame) -> None:
    by_product = lines.groupby("product_id").agg(revenue=("revenue", "sum"), units=("quantity", "sum"))
    by_product["revenue_rank"] = by_product["revenue"].rank(method="min", ascending=False).astype(int)
    by_product["units_rank"] = by_product["units"].rank(method="min", ascending=False).astype(int)
    rows = normalized(answer(loaded[1], "top_products", {"top_n": "10"}))
    assert len(rows) >= 10
    for row in rows:
        expected = by_product.loc[row["product_id"]]
        assert row["revenue"] == pytest.approx(expected["revenue"], abs=0.005)
        assert (row["revenue_rank"], row["units_rank"]) == (expected["revenue_rank"], expected["units_rank"])


HOSTILE = ["books' OR '1'='1", "x'; DROP TABLE fact_sales; --", "SELECT * FROM dim_customer", 'a"b\\c%(x)s$1']


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_parameters_are_data(value: str, loaded: tuple[Settings, Settings]) -> None:
    for settings in loaded:
        assert answer(settings, "top_products", {"category": value}) == []
        with connect(settings) as target:
            assert target.select("SELECT count(*) AS n FROM fact_sales")["n"][0].as_py() > 0


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ParameterError, match="expected a whole number"):
        load_query("top_products").bind({"top_n": "5; DROP TABLE fact_sales"})
    with pytest.raises(ParameterError, match="no parameter"):
        load_query("top_products").bind({"limit": "5"})
    with pytest.raises(ParameterError, match="available"):
        load_query("no_such_query")


def test_cli_query_formats_and_list(loaded: tuple[Settings, Settings]) -> None:
    base = [sys.executable, "-m", "salesflow", "--data-dir", str(loaded[0].data_dir), "query"]
    listing = subprocess.run([*base, "--list"], capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "rfm_segments" in listing.stdout
    csv_out = subprocess.run([*base, "top_categories", "--format", "csv", "--param", "top_n=2"],
                             capture_output=True, text=True, timeout=120)
    assert csv_out.returncode == 0 and csv_out.stdout.splitlines()[0].startswith("revenue_rank,category")
    assert len(csv_out.stdout.splitlines()) == 3
    bad = subprocess.run([*base, "top_categories", "--param", "top_n=two"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "top_n" in bad.stderr
