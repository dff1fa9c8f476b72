"""How numbers, times and column titles look, as a BI tool shows them: one module for the
dashboard and the HTML report, so a figure reads the same in both.

Every formatter takes what a query returns (Decimal, float, int, date, timestamp, None, NaN) and
gives text; a missing value is an empty cell, never "None" or "NaN". Column kinds are read from
the column's name (the analytics SQL names its columns consistently), with explicit overrides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

Kind = Literal["money", "percent", "share", "count", "number", "date", "datetime", "clock", "text"]
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
TITLES = {
    "aov": "Avg order value", "mom_growth": "Growth vs previous month", "dod_growth": "Day over day",
    "wow_growth": "Week over week", "view_to_cart": "View → cart", "cart_to_order": "Cart → order",
    "view_to_order": "View → order", "window_start": "Minute", "window_end": "Until", "store_id": "Store",
    "product_id": "Product id", "table_name": "Table", "violating_rows": "Violating rows",
    "bronze_rows": "Bronze rows", "silver_events": "Silver events", "run_id": "Run", "started_at": "Started",
    "checked_at": "Checked", "previous_revenue": "Previous period revenue", "revenue_rank": "Rank",
    "units_rank": "Rank by units", "name": "Product", "store_name": "Store name", "wape": "WAPE",
    "target_date": "Date", "predicted_units": "Predicted units", "lower_units": "Lower bound",
    "upper_units": "Upper bound", "days": "Days with data", "compared_days": "Compared days",
}
_MONEY = ("revenue", "aov", "amount", "price", "discount", "value", "spend", "monetary", "returns")
_GROWTH = ("growth", "change")
_SHARE = ("rate", "share", "_to_", "coverage")
_TEXT = {"month", "category", "name", "city", "segment", "kind", "compared_days", "status", "rule", "layer",
         "command", "stage", "table", "table_name", "action", "partition", "reason", "store_name", "channel",
         "country", "brand", "model", "label"}
_COUNT = ("orders", "units", "views", "carts", "rows", "events", "quarantined", "duplicates", "checks",
          "customers", "records", "rank", "frequency", "days", "batches", "files", "version", "quantity")


def blank(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float | Decimal):
        return value.is_nan() if isinstance(value, Decimal) else math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array is a value
        return False


def money(value: Any, currency: str = "USD") -> str:
    if blank(value):
        return ""
    amount = float(value)
    symbol = SYMBOLS.get(currency)
    digits = 0 if currency == "JPY" else 2
    text = f"{abs(amount):,.{digits}f}"
    sign = "−" if amount < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def percent(value: Any, signed: bool = True) -> str:
    """A fraction as a percentage with one decimal: 0.0097 -> "+1.0%"; signed for changes."""
    if blank(value):
        return ""
    number = float(value) * 100
    text = f"{abs(number):,.1f}%"
    if text == "0.0%":
        return text
    if number < 0:
        return f"−{text}"
    return f"+{text}" if signed else text


def count(value: Any) -> str:
    return "" if blank(value) else f"{round(float(value)):,}"


def number(value: Any, digits: int = 2) -> str:
    return "" if blank(value) else f"{float(value):,.{digits}f}"


def day(value: Any) -> str:
    if blank(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d") if not isinstance(value, str) else value


def moment(value: Any) -> str:
    """A timestamp on the 24-hour clock, in UTC (the pipeline's clock)."""
    if blank(value):
        return ""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M")


def clock(value: Any) -> str:
    return "" if blank(value) else pd.Timestamp(value).strftime("%H:%M")


def title(column: str) -> str:
    return TITLES.get(column) or column.replace("_", " ").capitalize()


def kind_of(column: str, values: pd.Series) -> Kind:
    name = column.lower()
    if name in ("day", "date", "month_start", "target_date", "forecast_date", "event_date", "signup_date"):
        return "date"
    if name.endswith("_at") or name in ("window_start", "window_end", "event_time"):
        return "datetime"
    if name.endswith("_id") or name in _TEXT:
        return "text"
    if name in ("wape", "mae", "rmse", "bias"):
        return "number"
    if name.endswith("rank"):
        return "count"
    numeric = values.dtype.kind in "iuf" or values.map(lambda v: isinstance(v, Decimal | int | float)).any()
    if values.dtype == bool or not numeric or values.map(lambda v: isinstance(v, bool)).any():
        return "text"
    for parts, kind in ((_GROWTH, "percent"), (_SHARE, "share"), (_MONEY, "money"), (_COUNT, "count")):
        if any(part in name for part in parts):
            return kind  # type: ignore[return-value]
    return "count" if values.dtype.kind in "iu" else "number"


def formatter(kind: Kind, currency: str) -> Callable[[Any], str]:
    return {"money": lambda v: money(v, currency), "percent": percent,
            "share": lambda v: percent(v, signed=False), "count": count, "number": number,
            "date": day, "datetime": moment, "clock": clock, "text": _text}[kind]


def _text(value: Any) -> str:
    if blank(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(frame: pd.DataFrame, currency: str = "USD", kinds: Mapping[str, Kind] | None = None,
          titles: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The frame as display text: every cell formatted by its column's kind, columns titled."""
    shown = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        kind = (kinds or {}).get(column) or kind_of(column, frame[column])
        shown[(titles or {}).get(column) or title(column)] = frame[column].map(formatter(kind, currency))
    return shown.reset_index(drop=True)


def as_float(frame: pd.DataFrame) -> pd.DataFrame:
    """DECIMAL columns arrive as Python Decimals (object dtype); charts need floats."""
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = frame[column].astype(float)
    return frame
