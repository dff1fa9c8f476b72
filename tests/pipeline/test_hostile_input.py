"""Hand-made bad records: each lands in quarantine with its reason, or in silver; never a crash."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest
from pydantic import ValidationError

from salesflow.config import Settings
from salesflow.contract import parse_event
from salesflow.jobs import run_batch
from salesflow.lake.tables import QUARANTINE, SILVER_ORDERS, SILVER_PRODUCT_VIEWS
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
    (order(7, total_amount=-20.0), "total_mismatch"),
    (order(8, total_amount="20.00"), "invalid_type"),
    (order(9, lines="P1 x2"), "invalid_type"),
    (order(10, lines=[]), "invalid_value"),
    (order(11, lines=[5]), "invalid_type"),
    (order(12, lines=line(quantity=1.5)), "invalid_type"),
    (order(13, lines=line(quantity=0), total_amount=9.5), None),   # a value line: its price once, less discount
    (order(14, lines=line(quantity=-2, discount=-1), total_amount=-20.0), None),  # a return: negative revenue
    (order(15, lines=line(quantity=-2)), "invalid_value"),         # a return's discount must be <= 0
    (order(16, lines=line(unit_price=10.123)), "invalid_value"),
    (order(17, lines=line(discount=50)), "invalid_value"),
    (order(18, lines=line(product_id=None)), "missing_field"),
    (order(19, channel="carrier pigeon"), "invalid_value"),
    (order(20, customer_id=12345), "invalid_type"),
    (order(21, notes="x" * 2_000_000), "payload_too_large"),
    (order(22, **{"nested": {"deep": [[[[{"a": None}]]]]}}), None),   # drift only: accepted
    (order(23, event_id="with\u0000null"), "invalid_value"),           # valid JSON text, but no key holds a NUL
    # Poison pills: each once stopped Silver (or Gold, or the warehouse) on every rerun.
    (order(24, event_time="0001-01-01T00:00:00Z"), "implausible_time"),
    (order(25, event_time="-0001-01-01T00:00:00Z"), "implausible_time"),
    (order(26, event_time="10000-01-01T00:00:00Z"), "implausible_time"),
    (order(27, event_time="9999-12-31T23:59:59+14:00"), "implausible_time"),
    (order(28, event_time="1999-12-31T23:59:59Z"), "implausible_time"),
    (order(29, lines=line(quantity=10**17, unit_price=100, discount=0)), "implausible_quantity"),
    (order(30, lines=line(quantity=1, unit_price=9e15, discount=0), total_amount=9e15), "implausible_amount"),
    (order(31, lines=line(quantity=1, unit_price=2e9, discount=0), total_amount=20.0), "implausible_amount"),
    (order(32, customer_id="C\u0007"), "invalid_value"),
    (order(33, lines=line(product_id="P\u001f")), "invalid_value"),
    (json.dumps({**VIEW, "event_id": "V3", "event_type": "add_to_cart", "quantity": 10**7}).encode(),
     "implausible_quantity"),
    # Where the collector's contract and Silver once disagreed: now one verdict each.
    (order(34, event_time=1788256800), "invalid_type"),                       # an epoch number
    (order(35, schema_version=1.0), "unsupported_version"),
    (order(36, schema_version=True), "unsupported_version"),
    (order(37, lines=line(quantity=2**63, unit_price=1, discount=0), total_amount=1.0), "implausible_quantity"),
    (json.dumps({**VIEW, "event_id": "V4", "event_type": "add_to_cart", "quantity": 2**63 + 5}).encode(),
     "implausible_quantity"),
    (order(38, event_time="2026-09-01T10:00:00+99:99"), "invalid_timestamp"),
    (order(39, event_time="2026-09-01T10:00:00+24:00"), "invalid_timestamp"),
    (order(40, event_time="2026-09-01T10:00:00+05:60"), "invalid_timestamp"),
    (order(41, event_time="2026-09-01T10:00:00z"), "invalid_timestamp"),
    (order(42, lines=line(unit_price=10.5000001)), "invalid_value"),
    (order(43, total_amount=20.0000001), "invalid_value"),
    (order(44, lines=line(discount=1e25)), "invalid_value"),
    (order(45, event_time="2026-09-01T10:00:00-0530"), None),                # an offset without a colon
    (order(46).replace(b'"currency": "USD"', b'"currency": "USD", "currency": "EUR"'), "malformed_json"),
    (order(47).replace(b'"quantity": 2', b'"quantity": 2, "quantity": 3'), "malformed_json"),
    (order(48).replace(b'"event_type": "order_created"', b'"event_type": "product_viewed", '
                                                       b'"event_type": "order_created"'), "malformed_json"),
    (order(49, meta={"k": 1}).replace(b'"k": 1', b'"k": 1, "k": 2'), None),  # inside drift: kept as received
    (json.dumps({**VIEW, "event_id": "V5"}).replace('"channel": "mobile"', '"channel": "mobile", "channel": "mobile"')
     .encode(), "malformed_json"),                                                       # repeated, even with one value
    (json.dumps({**VIEW, "customer_id": None}).encode(), None),        # anonymous view, +02:00 offset
    (json.dumps({**VIEW, "event_id": "V2", "quantity": "n/a"}).encode(), None),  # unknown field: drift
    (order(50, event_id="E" * 129), "invalid_value"),                     # ids are keys: 128 characters at most
    (order(51, lines=line(product_id="\u00e9" * 129)), "invalid_value"),
    (order(52, store_id="S" * 200_000), "invalid_value"),
    (json.dumps({**VIEW, "event_id": "V6", "session_id": "s" * 129}).encode(), "invalid_value"),
    (order(53, lines=line(discount=-1), total_amount=22.0), "negative_amount"),     # only a return's is negative
    (order(54, lines=line(quantity=0, discount=11), total_amount=-0.5), "invalid_value"),  # beyond the value
    (order(55, lines=line(quantity=-(2**63), unit_price=1, discount=0), total_amount=1.0), "implausible_quantity"),
    (order(56, lines=line(quantity=-2, unit_price=5e8, discount=0), total_amount=-1e9), None),  # at the bound
    (order(57, lines=line(quantity=-3, unit_price=5e8, discount=0), total_amount=-1.5e9), "implausible_amount"),
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
    assert set(orders) == {"E13", "E14", "E22", "E45", "E49", "E56"}
    assert (orders["E14"]["total_amount"], orders["E14"]["units"]) == (Decimal("-20.00"), -2)
    assert (orders["E13"]["total_amount"], orders["E13"]["units"]) == (Decimal("9.50"), 0)
    views = rows(landed, SILVER_PRODUCT_VIEWS)
    assert {v["event_id"] for v in views} == {"V", "V2"}
    assert all(v["event_time"].isoformat() == "2026-09-01T08:00:00+00:00" for v in views)


# Size and currency are deployment settings (pipeline.*), not contract rules.
@pytest.mark.parametrize(
    "payload,reason", [c for c in CASES if c[1] not in ("payload_too_large", "unsupported_currency")]
)
def test_contract_and_sql_agree(payload: bytes, reason: str | None) -> None:
    try:
        parse_event(payload)
        accepted = True
    except (ValidationError, ValueError):  # DuplicateKeyError is a ValueError
        accepted = False
    assert accepted == (reason is None)


def _view(n: int, **change: object) -> dict[str, object]:
    return {"event_type": "product_viewed", "schema_version": 1, "event_id": f"D{n}",
            "event_time": "2026-09-01T10:00:00Z", "session_id": "s", "customer_id": "C1", "store_id": "S1",
            "channel": "web", "product_id": "P1", **change}


def _minified(event: dict[str, object]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


DRIFT_CASES: list[bytes] = [
    _minified(_view(1)),                                                   # every known field, nothing else
    _minified(_view(2, event_type="add_to_cart", quantity=2)),
    _minified(_view(3, event_type="add_to_cart", quantity=999999)),        # a long number (the largest plausible)
    _minified(_view(4, quantity=1)),                                       # a cart field on a view is drift
    _minified(_view(5, **{"": 0})),                                        # the shortest extra member
    _minified({k: v for k, v in _view(6, x=1).items() if k != "customer_id"}),
    json.dumps(_view(7, coupon_code="A")).encode(),                        # not minified
    json.dumps(_view(8, event_type="add_to_cart", quantity=1)).encode(),
    _minified(_view(9, currency="USD")),                                   # an order field on a view
    _minified(_view(10)).replace(b'"store_id"', b'"store\\u005fid"'),      # an escaped known key
    _minified(_view(11, a=1)).replace(b'"P1"', b'"P\\u00e9"'),             # an escaped value
    _minified(_view(13, z=None)),
    _minified(_view(14, customer_id=None, y=0)),
    _minified({k: v for k, v in _view(15, k="").items() if k != "schema_version"}),
    _minified({**ORDER, "event_id": "D16", "order_id": "D16", "coupon_code": "X"}),
    _minified({**ORDER, "event_id": "D17", "order_id": "D17"}),
]


def test_schema_drift_agrees_with_the_contract(settings: Settings) -> None:
    """Silver counts the fields the contract does not know exactly as the contract reports them,
    whatever the payload's spelling: the parse of the keys it skips for short events must never
    skip one that holds an unknown field."""
    expected: Counter[str] = Counter()
    for payload in DRIFT_CASES:
        event = parse_event(payload)
        expected.update(f"{event.event_type}.{name}" for name in event.extra_fields)
    assert expected["product_viewed."] == 1 and expected["add_to_cart.quantity"] == 0
    LandingLog(settings.landing_dir).append(DRIFT_CASES)
    result = run_batch(settings)
    assert result.total("quarantined_total") == 0
    assert result.schema_drift == dict(expected)
