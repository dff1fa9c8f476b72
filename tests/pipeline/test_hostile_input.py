"""Hand-made bad records: each lands in quarantine with its reason, or in silver; never a crash."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from salesflow.config import Settings
from salesflow.contract import parse_event
from salesflow.lake.tables import QUARANTINE, SILVER_ORDERS, SILVER_PRODUCT_VIEWS
from salesflow.pipeline import run_batch
from salesflow.sources.landing import LandingLog
from tests.pipeline.lakeview import rows

ORDER = {
    "event_type": "order_created", "schema_version": 1, "event_id": "E", "event_time": "2026-09-01T10:00:00Z",
    "order_id": "O", "customer_id": "C1", "store_id": "S1", "channel": "web", "currency": "USD",
    "payment_method": "card", "lines": [{"product_id": "P1", "quantity": 2, "unit_price": 10.5, "discount": 1}],
    "total_amount": 20.0,
}
VIEW = {"event_type": "product_viewed", "event_id": "V", "event_time": "2026-09-01T10:00:00+02:00",
        "session_id": "s", "product_id": "P1", "store_id": "S1", "channel": "mobile"}


def order(n: int, **change: object) -> bytes:
    return json.dumps({**ORDER, "event_id": f"E{n}", "order_id": f"O{n}", **change}).encode()


def line(**change: object) -> list[dict[str, object]]:
    return [{**ORDER["lines"][0], **change}]  # type: ignore[dict-item]


CASES: list[tuple[bytes, str | None]] = [
    (b"", "malformed_json"),
    (b"{not json", "malformed_json"),
    (b"[1, 2, 3]", "malformed_json"),
    (b"\x00\x01\x02 binary garbage", "malformed_json"),
    (b"\xff\xfe\xfa not utf-8", "invalid_encoding"),
    (b'{"event_type": 5}', "invalid_type"),
    (b'{"event_type": "order_created"}', "missing_field"),
    (b'{"event_type": "refund_issued", "event_id": "x"}', "unknown_event_type"),
    (order(1, schema_version=2), "unsupported_version"),
    (order(2, event_id=""), "invalid_value"),
    (order(3, event_time="2026-09-01 10:00:00"), "invalid_timestamp"),
    (order(4, event_time="yesterday"), "invalid_timestamp"),
    (order(5, currency="EUR"), "unsupported_currency"),
    (order(6, total_amount=99.0), "total_mismatch"),
    (order(7, total_amount=-20.0), "negative_amount"),
    (order(8, total_amount="20.00"), "invalid_type"),
    (order(9, lines="P1 x2"), "invalid_type"),
    (order(10, lines=[]), "invalid_value"),
    (order(11, lines=[5]), "invalid_type"),
    (order(12, lines=line(quantity=1.5)), "invalid_type"),
    (order(13, lines=line(quantity=0), total_amount=-1.0), "negative_amount"),
    (order(14, lines=line(quantity=-2), total_amount=-22.0), "negative_amount"),
    (order(15, lines=line(quantity=-2)), "non_positive_quantity"),
    (order(16, lines=line(unit_price=10.123)), "invalid_value"),
    (order(17, lines=line(discount=50)), "invalid_value"),
    (order(18, lines=line(product_id=None)), "missing_field"),
    (order(19, channel="carrier pigeon"), "invalid_value"),
    (order(20, customer_id=12345), "invalid_type"),
    (order(21, notes="x" * 2_000_000), "payload_too_large"),
    (order(22, **{"nested": {"deep": [[[[{"a": None}]]]]}}), None),   # drift only: accepted
    (order(23, event_id="with\u0000null"), None),                      # escaped NUL is valid JSON text
    (json.dumps({**VIEW, "customer_id": None}).encode(), None),        # anonymous view, +02:00 offset
    (json.dumps({**VIEW, "event_id": "V2", "quantity": "n/a"}).encode(), None),  # unknown field: drift
]


@pytest.fixture
def landed(settings: Settings) -> Settings:
    LandingLog(settings.landing_dir).append(payload for payload, _ in CASES)
    run_batch(settings)
    return settings


def test_each_bad_record_is_quarantined_with_reason(landed: Settings) -> None:
    quarantine = {int(r["source_position"].rsplit(":", 1)[1]): r for r in rows(landed, QUARANTINE)}
    for number, (payload, reason) in enumerate(CASES, start=1):
        if reason is None:
            assert number not in quarantine, (payload[:120], quarantine.get(number))
        else:
            assert quarantine[number]["reason"] == reason, (payload[:120], quarantine[number]["reason_detail"])


def test_accepted_hostile_records_are_typed(landed: Settings) -> None:
    orders = {r["event_id"]: r for r in rows(landed, SILVER_ORDERS)}
    assert set(orders) == {"E22", "with\x00null"}
    views = rows(landed, SILVER_PRODUCT_VIEWS)
    assert {v["event_id"] for v in views} == {"V", "V2"}
    assert all(v["event_time"].isoformat() == "2026-09-01T08:00:00+00:00" for v in views)


# Size and currency are deployment settings (pipeline.*), not contract rules.
@pytest.mark.parametrize("payload,reason", [c for c in CASES if c[1] not in ("payload_too_large", "unsupported_currency")])
def test_contract_and_sql_agree(payload: bytes, reason: str | None) -> None:
    try:
        parse_event(payload)
        accepted = True
    except (ValidationError, ValueError):
        accepted = False
    assert accepted == (reason is None)
