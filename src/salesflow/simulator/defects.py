"""Defect injection: the faults real producers make, each labelled with the outcome it must get.

Every record the simulator emits carries ``expected``: ``"silver"``, ``"duplicate"`` or the
quarantine reason the pipeline must assign. Tests compare that truth with what the lake holds.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

import orjson

from salesflow.contract.vocabulary import REQUIRED_FIELDS

DEFECT_KINDS: tuple[str, ...] = (
    "duplicate", "late", "malformed_json", "missing_field", "negative_value", "wrong_type",
    "unknown_event_type", "schema_drift", "oversized",
)
UNKNOWN_TYPES = ("order_refunded", "wishlist_added", "coupon_redeemed")


@dataclass(frozen=True)
class DefectRates:
    """Probability per event of each defect. Defaults are a small, realistic rate."""

    duplicate: float = 0.005
    late: float = 0.01
    malformed_json: float = 0.001
    missing_field: float = 0.001
    negative_value: float = 0.0005
    wrong_type: float = 0.0005
    unknown_event_type: float = 0.0005
    schema_drift: float = 0.002
    oversized: float = 0.0

    @classmethod
    def none(cls) -> DefectRates:
        return cls(**{f.name: 0.0 for f in fields(cls)})

    def with_overrides(self, overrides: dict[str, float]) -> DefectRates:
        unknown = set(overrides) - set(DEFECT_KINDS)
        if unknown:
            raise ValueError(f"unknown defect kind(s) {sorted(unknown)}; known: {DEFECT_KINDS}")
        return replace(self, **overrides)


@dataclass(frozen=True, slots=True)
class SimRecord:
    """One line of simulated traffic and the truth about it."""

    line: bytes
    event: dict[str, Any] | None
    defect: str | None
    expected: str
    """``silver``, ``duplicate`` or the quarantine reason the pipeline must give."""


def to_json(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # two-place money prints exactly as the shortest float repr
    raise TypeError(type(value).__name__)


@dataclass
class DefectInjector:
    """Turns clean events into emitted records, holding late and duplicate copies in a heap."""

    rates: DefectRates
    rng: random.Random
    oversized_bytes: int = 1_200_000
    _held: list[tuple[float, int, SimRecord]] = field(default_factory=list)
    _seq: int = 0

    def feed(self, event: dict[str, Any], t: float) -> Iterator[SimRecord]:
        """Emit what is due at event-time ``t``, then this event (unless it is held back)."""
        yield from self._due(t)
        kind = self._pick_kind()
        if kind == "late":
            self._hold(t + self.rng.uniform(30, 3600), SimRecord(to_json(event), event, "late", "silver"))
            return
        record = self._apply(kind, event)
        yield record
        if record.expected == "silver" and self.rng.random() < self.rates.duplicate:
            self._hold(t + self.rng.uniform(1, 300), replace(record, defect="duplicate", expected="duplicate"))

    def drain(self) -> Iterator[SimRecord]:
        yield from self._due(float("inf"))

    def _due(self, t: float) -> Iterator[SimRecord]:
        while self._held and self._held[0][0] <= t:
            yield heapq.heappop(self._held)[2]

    def _hold(self, due: float, record: SimRecord) -> None:
        self._seq += 1
        heapq.heappush(self._held, (due, self._seq, record))

    def _pick_kind(self) -> str | None:
        u = self.rng.random()
        for name in DEFECT_KINDS[1:]:
            u -= getattr(self.rates, name)
            if u < 0:
                return name
        return None

    def _apply(self, kind: str | None, event: dict[str, Any]) -> SimRecord:
        if kind is None:
            return SimRecord(to_json(event), event, None, "silver")
        damaged, expected = getattr(self, f"_{kind}")(event)
        if damaged is None:  # this event type cannot carry that defect: emit it clean
            return SimRecord(to_json(event), event, None, "silver")
        line = damaged if isinstance(damaged, bytes) else to_json(damaged)
        return SimRecord(line, event, kind, expected)

    def _malformed_json(self, event: dict[str, Any]) -> tuple[bytes, str]:
        text = to_json(event)
        if self.rng.random() < 0.2:
            return b"\xff\xfe\x00garbage" + text[:20], "malformed_json"
        return text[: self.rng.randint(1, len(text) - 2)], "malformed_json"

    def _missing_field(self, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
        damaged = dict(event)
        name = self.rng.choice(("event_id", "event_time") + REQUIRED_FIELDS[event["event_type"]])
        if self.rng.random() < 0.5:
            del damaged[name]
        else:
            damaged[name] = None
        return damaged, "missing_field"

    def _negative_value(self, event: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        damaged = dict(event)
        if event["event_type"] == "add_to_cart":
            damaged["quantity"] = -event["quantity"]
            return damaged, "non_positive_quantity"
        if event["event_type"] != "order_created":
            return None, "silver"
        lines = [dict(line) for line in event["lines"]]
        # A negative quantity is a return line in the contract, not a defect: the price is negated.
        # (The draw is kept so a seed gives the same records as before returns were accepted.)
        self.rng.random()
        lines[0]["unit_price"] = -lines[0]["unit_price"]
        damaged["lines"] = lines
        return damaged, "negative_amount"

    def _wrong_type(self, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
        damaged = dict(event)
        if event["event_type"] == "order_created":
            lines = [dict(line) for line in event["lines"]]
            lines[0]["quantity"] = "two"
            damaged["lines"] = lines
        elif event["event_type"] == "add_to_cart":
            damaged["quantity"] = str(event["quantity"])
        else:
            damaged["product_id"] = 12345
        return damaged, "invalid_type"

    def _unknown_event_type(self, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {**event, "event_type": self.rng.choice(UNKNOWN_TYPES)}, "unknown_event_type"

    def _schema_drift(self, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
        extra = {"coupon_code": f"SAVE{self.rng.randint(5, 30)}", "device": {"os": "ios"}}
        return {**event, **extra}, "silver"

    def _oversized(self, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {**event, "notes": "x" * self.oversized_bytes}, "payload_too_large"
