"""dim_date rows: calendar attributes and US federal holidays (observed rules kept simple)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pyarrow as pa


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def holidays(year: int) -> dict[date, str]:
    return {
        date(year, 1, 1): "New Year's Day",
        _nth_weekday(year, 1, 0, 3): "Martin Luther King Jr. Day",
        _nth_weekday(year, 2, 0, 3): "Presidents' Day",
        _last_weekday(year, 5, 0): "Memorial Day",
        date(year, 6, 19): "Juneteenth",
        date(year, 7, 4): "Independence Day",
        _nth_weekday(year, 9, 0, 1): "Labor Day",
        _nth_weekday(year, 10, 0, 2): "Columbus Day",
        date(year, 11, 11): "Veterans Day",
        _nth_weekday(year, 11, 3, 4): "Thanksgiving",
        _nth_weekday(year, 11, 3, 4) + timedelta(days=1): "Black Friday",
        date(year, 12, 25): "Christmas Day",
    }


def dim_date_rows(first: date, last: date) -> pa.Table:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    named = {d: n for y in {d.year for d in days} for d, n in holidays(y).items()}
    return pa.table({
        "date_key": pa.array([d.year * 10000 + d.month * 100 + d.day for d in days], pa.int32()),
        "date": pa.array(days, pa.date32()),
        "year": pa.array([d.year for d in days], pa.int32()),
        "quarter": pa.array([(d.month - 1) // 3 + 1 for d in days], pa.int32()),
        "month": pa.array([d.month for d in days], pa.int32()),
        "month_name": [calendar.month_name[d.month] for d in days],
        "day_of_month": pa.array([d.day for d in days], pa.int32()),
        "day_of_week": pa.array([d.isoweekday() for d in days], pa.int32()),
        "day_name": [calendar.day_name[d.weekday()] for d in days],
        "week_of_year": pa.array([d.isocalendar().week for d in days], pa.int32()),
        "day_of_year": pa.array([d.timetuple().tm_yday for d in days], pa.int32()),
        "is_weekend": [d.weekday() >= 5 for d in days],
        "is_holiday": [d in named for d in days],
        "holiday_name": [named.get(d) for d in days],
        "is_month_end": [(d + timedelta(days=1)).month != d.month for d in days],
        "year_month": [f"{d.year:04d}-{d.month:02d}" for d in days],
    })
