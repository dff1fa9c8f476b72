"""Croston, SBA and TSB (statsforecast) as salesflow forecasters: no level sees a later day, a
series starts at the product's first sale, closures are no market, the per-class pick round-trips."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsforecast.models import TSB, CrostonClassic, CrostonSBA

from salesflow.config import ForecastConfig
from salesflow.forecast.demand_classes import by_class_predictions, choose, classify
from salesflow.forecast.intermittent import TSB_ALPHA_D, TSB_ALPHA_P, build_series
from salesflow.forecast.kinds import BY_CLASS, ByClass, make

START = date(2026, 1, 1)
LIBRARY = {"croston": CrostonClassic, "sba": CrostonSBA, "tsb": lambda: TSB(alpha_d=TSB_ALPHA_D, alpha_p=TSB_ALPHA_P)}


def daily(sales: dict[str, dict[int, int]]) -> pa.Table:
    """gold.daily_sales rows: product -> {day offset: units} (no row on a day without sales)."""
    rows = [(START + timedelta(days=d), p, u) for p, days in sales.items() for d, u in days.items() if u]
    return pa.table({"event_date": pa.array([r[0] for r in rows], pa.date32()),
                     "product_id": [r[1] for r in rows], "category": ["c"] * len(rows),
                     "units": pa.array([r[2] for r in rows], pa.int64())})


sparse = st.dictionaries(st.integers(0, 59), st.integers(0, 9), min_size=1, max_size=25).filter(
    lambda d: any(d.values()))


@settings(max_examples=40, deadline=None)
@given(sales=st.dictionaries(st.sampled_from(["a", "b", "c"]), sparse, min_size=1),
       cut=st.integers(5, 58), method=st.sampled_from(sorted(LIBRARY)), horizon=st.sampled_from([1, 7]))
def test_no_level_sees_a_later_day(sales: dict[str, dict[int, int]], cut: int, method: str, horizon: int) -> None:
    """Change every sale after a cutoff: each lookup whose origin (target - horizon) is on or before
    the cutoff gives the same level; and the level after the last day is statsforecast's forecast."""
    full = daily(sales)
    changed = daily({p: {d: (u + 3 if d > cut else u) for d, u in days.items()} | {cut + 1: 5}
                     for p, days in sales.items()})
    last = START + timedelta(days=60)
    a, b = build_series(full, last, []), build_series(changed, last, [])
    targets = np.array([np.datetime64(START + timedelta(days=d), "D") for d in range(1, 61)])
    for product in sales:
        ids = np.array([product] * len(targets))
        known = targets - np.timedelta64(horizon, "D") <= np.datetime64(START + timedelta(days=cut), "D")
        assert np.allclose(a.lookup(method, ids, targets, horizon)[known],
                           b.lookup(method, ids, targets, horizon)[known])
        first = min(d for d, u in sales[product].items() if u)
        y = np.array([sales[product].get(d, 0) for d in range(first, 61)], dtype=float)
        after_last = a.lookup(method, ids[:1], np.array([np.datetime64(last, "D") + 1]), 1)
        assert np.isclose(after_last[0], LIBRARY[method]().forecast(y, h=1)["mean"][0], rtol=1e-5)


def test_a_series_starts_at_the_first_sale_and_skips_closures() -> None:
    """A product first sold on day 200 of a year has no zeros before it (no dense padding), and a
    day the shop was closed is no day of its series."""
    sales = {"old": {d: 1 for d in range(0, 365, 3)}, "new": {200: 4, 230: 2, 300: 1}}
    closure = START + timedelta(days=250)
    sales["old"].pop(250, None)
    series = build_series(daily(sales), START + timedelta(days=364), [closure])
    index = {p: i for i, p in enumerate(series.products)}
    lengths = np.diff(series.offsets)
    assert lengths[index["old"]] == 364  # 365 days less the closure
    assert lengths[index["new"]] == 365 - 200 - 1
    assert np.datetime64(closure, "D") not in series.days
    before = np.array([np.datetime64(START + timedelta(days=d), "D") for d in (150, 200)])
    levels = series.lookup("tsb", np.array(["new", "new"]), before, 1)
    assert levels[0] == 0.0 and levels[1] == 0.0  # nothing known before, nor on, the first sale's day
    assert series.lookup("tsb", np.array(["unknown"]), before[:1], 1)[0] == 0.0


def test_the_per_class_pick_is_the_lowest_error_per_class_and_round_trips(tmp_path: Path) -> None:
    classes = pd.Series({"s": "smooth", "l": "lumpy"})
    rows = []
    for model, errors in {"lightgbm": {"s": 1.0, "l": 5.0}, "tsb": {"s": 2.0, "l": 1.0}}.items():
        for product, error in errors.items():
            rows.append({"model": model, "product_id": product, "actual": 10.0, "predicted": 10.0 + error})
    predictions = pd.DataFrame(rows)
    choice = choose(predictions, classes)
    assert choice == {"smooth": "lightgbm", "lumpy": "tsb"}
    picked = by_class_predictions(predictions, classes, choice, BY_CLASS)
    assert sorted(picked["predicted"]) == [11.0, 11.0] and set(picked["model"]) == {BY_CLASS}

    config = ForecastConfig()
    sales = {"s": {d: 5 + d % 3 for d in range(40)}, "l": {3: 2, 17: 9, 30: 1}}
    series = build_series(daily(sales), START + timedelta(days=39), [])
    naive = make("seasonal_naive", config)
    model = ByClass(config, {"smooth": "seasonal_naive", "lumpy": "tsb"}, classes.to_dict(),
                    {"seasonal_naive": naive, "tsb": make("tsb", config)})
    model.attach(series, 1)
    frame = pd.DataFrame({"product_id": ["s", "l"], "target_date": [START + timedelta(days=40)] * 2,
                          "same_weekday_1": [6.0, 0.0], "mean_7": [6.0, 0.2]})
    before = model.predict(frame)
    assert before[0] == 6.0  # seasonal naive for the smooth product
    assert before[1] == pytest.approx(series.lookup("tsb", np.array(["l"]), frame["target_date"].to_numpy(), 1)[0])
    model.save(tmp_path)
    loaded = make(BY_CLASS, config)
    loaded.load(tmp_path)
    loaded.attach(series, 1)
    assert np.array_equal(loaded.predict(frame), before)


@settings(max_examples=30, deadline=None)
@given(sales=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), sparse, min_size=1), until=st.integers(0, 59))
def test_classes_from_packed_series_match_the_frame_classification(sales: dict[str, dict[int, int]],
                                                                   until: int) -> None:
    """The packed-array classification (used at catalogue scale) agrees with forecast.demand_classes
    on a frame of product-days from each first sale."""
    series = build_series(daily(sales), START + timedelta(days=60), [])
    cut = START + timedelta(days=until)
    rows = [(p, START + timedelta(days=d), float(days.get(d, 0))) for p, days in sales.items()
            for d in range(min(d for d, u in days.items() if u), until + 1)]
    frame = pd.DataFrame(rows, columns=["product_id", "target_date", "target"])
    expected = classify(frame) if len(frame) else pd.Series(dtype=str)
    got = series.classes(cut)
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()


def test_returns_and_products_that_never_sold_give_no_negative_level_and_no_crash() -> None:
    """A day whose returns outweigh its sales, a product with only returns, a one-day product and a
    huge order: every method gives a finite level of at least 0 (TSB crashed on the returns-only
    product: no sale size to smooth)."""
    rows = [(d, "mixed", u) for d, u in [(0, 2), (3, -5), (4, -1), (9, 3)]] + [(0, "returns", -4)] \
        + [(11, "once", 1), (0, "huge", 10**12)]
    table = pa.table({"event_date": pa.array([START + timedelta(days=d) for d, _, _ in rows], pa.date32()),
                      "product_id": [p for _, p, _ in rows], "units": pa.array([u for _, _, u in rows], pa.int64())})
    series = build_series(table, START + timedelta(days=11), [])
    ids = np.array(["mixed", "returns", "once", "huge"])
    after = np.array([np.datetime64(START + timedelta(days=12), "D")] * 4)
    for method in LIBRARY:
        levels = series.level_after(method)
        assert np.isfinite(levels).all() and (levels >= 0).all()
        got = series.lookup(method, ids, after, 1)
        assert got[1] == 0.0 and got[3] > 1e11  # only returns: no demand; the huge order is seen
        mixed = np.array([2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0], dtype=float)  # returns are no demand
        assert np.isclose(got[0], LIBRARY[method]().forecast(mixed, h=1)["mean"][0], rtol=1e-5)
