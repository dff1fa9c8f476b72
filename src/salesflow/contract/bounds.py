"""Plausibility bounds: the values beyond which a record is refused, whatever its shape.

Every accepted record must fit every column and aggregate it reaches, and must not move a
watermark, a calendar or a forecast panel to a year no shop trades in. The bounds live here so the
collector (the pydantic contract, given them as validation context) and Silver (the SQL models,
given them as parameters) apply the same ones; ``pipeline.*`` in the config may move them.

With the defaults a line's amount is at most 10^6 x 10^9 = 10^15, an order at most 10^9, and a
Gold day of one store and category holds ten million such orders before DECIMAL(18, 2) (10^16)
would overflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE_SECONDS = 86_400
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("1000000000")
CONTROL_CHARACTERS = "[\\x00-\\x1F]"
"""A regular expression (RE2, Java and Rust spell it alike): ids must hold none of these C0
controls. JSON cannot carry them raw, only escaped, so Silver looks for them only in payloads that
hold a backslash (one memchr instead of a regular expression over every record's ids)."""
MAX_ID_CHARS = 128
"""Longest id (characters): a key, not a document."""
MAX_QUARANTINED_LINES = 1_000_000
"""An order's count of lines quarantined on their own at most (a basket is one file's rows)."""
UTC_OFFSET = "[+-]([01][0-9]|2[0-3]):?[0-5][0-9]$"
"""How an event time's offset must end when it is not ``Z`` (both validators use this pattern)."""


@dataclass(frozen=True)
class Bounds:
    earliest_event_time: datetime = EARLIEST_EVENT_TIME
    """Events before this are ``implausible_time``."""
    max_future_seconds: int = MAX_FUTURE_SECONDS
    """Events more than this after they were received are ``implausible_time``."""
    max_quantity: int = MAX_QUANTITY
    """Units of one line or cart event at most (``implausible_quantity``)."""
    max_amount: Decimal = MAX_AMOUNT
    """A unit price and an order's total at most (``implausible_amount``)."""

    def time_problem(self, event_time: datetime, received: datetime) -> str | None:
        if event_time < self.earliest_event_time:
            return f"before {self.earliest_event_time.date().isoformat()}"
        if event_time > received + timedelta(seconds=self.max_future_seconds):
            return f"more than {self.max_future_seconds} s after it was received"
        return None


DEFAULT_BOUNDS = Bounds()


def line_rule_params(bounds: Bounds) -> dict[str, object]:
    """The parameters of the line rules (``silver._line_rules``): Silver and a line-grain mapping
    render them from the same bounds."""
    amount = bounds.max_amount
    return {"max_quantity": bounds.max_quantity,
            "max_amount": int(amount) if amount == int(amount) else float(amount),
            "control_characters": CONTROL_CHARACTERS, "max_id_chars": MAX_ID_CHARS,
            "max_quarantined_lines": MAX_QUARANTINED_LINES}
