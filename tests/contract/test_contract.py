from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest
from pydantic import ValidationError

from salesflow.contract import OrderCreated, parse_event
from salesflow.contract.schema import event_json_schema, reference_json_schemas
from salesflow.simulator import SimulationSpec, build_catalog, simulate
from salesflow.simulator.defects import to_json
from tests.conftest import noisy

ORDER = {
    "event_type": "order_created", "schema_version": 1, "event_id": "e-1",
    "event_time": "2026-09-01T10:00:00.000Z", "order_id": "O-1", "customer_id": "C1", "store_id": "S1",
    "channel": "web", "currency": "USD", "payment_method": "card",
    "lines": [{"product_id": "P1", "quantity": 2, "unit_price": 10.5, "discount": 1.0}],
    "total_amount": 20.0,
}


def test_valid_order_parses_with_exact_money() -> None:
    event = parse_event(json.dumps(ORDER))
    assert isinstance(event, OrderCreated)
    assert event.lines[0].revenue == Decimal("20.00")
    assert event.event_time.utcoffset() is not None


@pytest.mark.parametrize("change", [
    {"total_amount": 25.0},                                         # total disagrees with lines
    {"lines": []},                                                  # an order needs a line
    {"lines": [{"product_id": "P1", "quantity": 2, "unit_price": "10.5"}]},  # number as string
    {"lines": [{"product_id": "P1", "quantity": 1.5, "unit_price": 10.5}]},  # fractional units
    {"lines": [{"product_id": "P1", "quantity": 1, "unit_price": 1.0, "discount": 5.0}]},
    {"channel": "fax"},
    {"event_time": "2026-09-01T10:00:00"},                          # no timezone
    {"event_type": "order_refunded"},
    {"schema_version": 2},
    {"event_id": ""},
])
def test_contract_rejects(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_event(json.dumps({**ORDER, **change}))


def test_extra_fields_are_kept_and_reported() -> None:
    event = parse_event(json.dumps({**ORDER, "coupon_code": "X"}))
    assert event.extra_fields == ["coupon_code"]


def test_every_simulated_record_agrees_with_its_label() -> None:
    """Clean, late, drifted and duplicate records parse; every other defect is rejected."""
    records = list(simulate(SimulationSpec(events=6_000, seed=3, defects=noisy()), build_catalog(3)))
    assert {r.defect for r in records} >= {"malformed_json", "missing_field", "negative_value", "wrong_type",
                                           "unknown_event_type", "schema_drift", "late", "duplicate", "oversized"}
    for record in records:
        if record.expected == "payload_too_large":
            continue  # size is a transport limit (pipeline.max_payload_bytes), not a contract rule
        ok = True
        try:
            parse_event(record.line)
        except ValidationError:
            ok = False
        assert ok == (record.expected in ("silver", "duplicate")), (record.defect, record.line[:200])


def test_exported_schema_accepts_clean_events() -> None:
    schema = event_json_schema()
    assert schema["x-contract-version"] == 1
    validator = jsonschema.Draft202012Validator(schema)
    for record in simulate(SimulationSpec(events=500, seed=5), build_catalog(5)):
        if record.expected == "silver":
            validator.validate(json.loads(record.line))
    assert not validator.is_valid({**ORDER, "event_type": "nope"})


def test_reference_schemas_cover_all_reference_data() -> None:
    assert set(reference_json_schemas()) == {"products", "customers", "stores"}


def test_to_json_keeps_two_place_money() -> None:
    line = to_json({"x": Decimal("19.99"), "y": Decimal("0.10")})
    assert json.loads(line, parse_float=Decimal) == {"x": Decimal("19.99"), "y": Decimal("0.1")}
