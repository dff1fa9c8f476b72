"""Five-field cron expressions (minute hour day-of-month month day-of-week), UTC, for ``run.cron``.

Supports ``*``, numbers, lists (``1,15``), ranges (``9-17``) and steps (``*/15``, ``0-30/10``);
day-of-week 0 or 7 is Sunday. When both day fields are restricted, either may match (as in cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from salesflow.errors import ConfigError

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        fields = expression.split()
        if len(fields) != 5:
            raise ConfigError(f"run.cron {expression!r}: expected 5 fields (minute hour day month weekday)")
        sets = [_field(f, lo, hi, expression) for f, (lo, hi) in zip(fields, _BOUNDS, strict=True)]
        weekdays = frozenset(0 if d == 7 else d for d in sets[4])
        return cls(sets[0], sets[1], sets[2], sets[3], weekdays, fields[2] == "*", fields[4] == "*")

    def matches(self, t: datetime) -> bool:
        weekday = (t.weekday() + 1) % 7  # cron: Sunday = 0
        day_ok = t.day in self.days
        weekday_ok = weekday in self.weekdays
        if self.any_day or self.any_weekday:
            day_match = day_ok and weekday_ok
        else:
            day_match = day_ok or weekday_ok
        return t.minute in self.minutes and t.hour in self.hours and t.month in self.months and day_match

    def next_after(self, t: datetime) -> datetime:
        candidate = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):  # at most a year of minutes
            if self.matches(candidate):
                return candidate
            candidate += timedelta(minutes=1)
        raise ConfigError("run.cron never matches within a year")


def _field(text: str, lo: int, hi: int, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = lo, hi
            elif "-" in span:
                first, last = (int(x) for x in span.split("-", 1))
            else:
                first = last = int(span)
        except ValueError:
            raise ConfigError(f"run.cron {expression!r}: cannot read {part!r}") from None
        if not (lo <= first <= last <= hi) or step < 1:
            raise ConfigError(f"run.cron {expression!r}: {part!r} is outside {lo}-{hi}")
        values.update(range(first, last + 1, step))
    return frozenset(values)
