"""The one formatting module of the dashboard and the report: every value reads as a BI tool shows it."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from salesflow.dashboard import formatting as fmt

amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False)


@given(amounts)
def test_money_has_its_currency_separators_and_cents(value: Decimal) -> None:
    text = fmt.money(value, "USD")
    assert re.fullmatch(r"−?\$\d{1,3}(,\d{3})*\.\d{2}", text), text
    assert Decimal(text.replace("−", "-").replace("$", "").replace(",", "")) == value
    assert fmt.money(value, "CHF").endswith(" CHF")


@given(st.floats(min_value=-50, max_value=50, allow_nan=False))
def test_growth_is_a_signed_percentage_with_one_decimal(value: float) -> None:
    text = fmt.percent(value)
    assert re.fullmatch(r"([+−]\d{1,3}(,\d{3})*\.\d%)|0\.0%", text), text
    assert abs(float(text.replace("−", "-").replace(",", "").rstrip("%")) - value * 100) <= 0.05 + 1e-9


@given(st.integers(min_value=0, max_value=10**12))
def test_counts_are_integers_with_separators(value: int) -> None:
    assert fmt.count(float(value)) == f"{value:,}"


def test_missing_values_are_empty_cells_and_columns_get_human_titles() -> None:
    frame = pd.DataFrame({"day": [date(2026, 9, 1), None], "revenue": [Decimal("1234.5"), None],
                          "mom_growth": [0.0097, math.nan], "orders": [24557.0, None],
                          "view_to_cart": [0.218, None],
                          "window_start": [datetime(2026, 9, 1, 14, 5, tzinfo=UTC), None],
                          "complete": [True, False], "revenue_rank": [1, 2]})
    shown = fmt.table(frame, "EUR")
    assert list(shown.columns) == ["Day", "Revenue", "Growth vs previous month", "Orders", "View → cart",
                                   "Minute", "Complete", "Rank"]
    assert shown.iloc[0].tolist() == ["2026-09-01", "€1,234.50", "+1.0%", "24,557", "21.8%", "2026-09-01 14:05",
                                      "yes", "1"]
    assert shown.iloc[1].tolist() == ["", "", "", "", "", "", "no", "2"]
