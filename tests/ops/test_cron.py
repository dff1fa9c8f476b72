"""run.cron: the five-field cron expressions the supervisor schedules by."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesflow.errors import ConfigError
from salesflow.ops.cron import Cron


def test_next_times() -> None:
    t = datetime(2026, 11, 22, 10, 7, 30, tzinfo=UTC)  # a Sunday
    assert Cron.parse("15 * * * *").next_after(t) == datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    assert Cron.parse("*/20 9-17 * * *").next_after(t) == datetime(2026, 11, 22, 10, 20, tzinfo=UTC)
    assert Cron.parse("0 6 * * 1-5").next_after(t) == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday
    assert Cron.parse("30 2 1 * *").next_after(t) == datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    assert Cron.parse("0 0 * * 7").next_after(t) == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # 7 is Sunday
    # Both day fields restricted: either matches (the 1st, or any Friday).
    assert Cron.parse("0 0 1 * 5").next_after(t) == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "a * * * *", "*/0 * * * *", "5-1 * * * *"])
def test_bad_expressions_name_the_setting(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"run\.cron"):
        Cron.parse(bad)
