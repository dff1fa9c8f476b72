"""Every expectation kind, run as SQL in the DuckDB engine on small known tables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from pydantic import TypeAdapter

from salesflow.engine.duckdb import DuckDBEngine
from salesflow.quality.alerts import WebhookAlerter
from salesflow.quality.expectations import Expectation
from salesflow.quality.gate import QualityGate

RULE: TypeAdapter[Expectation] = TypeAdapter(Expectation)  # type: ignore[arg-type]

ROWS = pa.table({
    "event_id": ["a", "b", "c", "c", None],
    "order_id": ["o1", "o2", "o3", "o4", "o5"],
    "line": pa.array([1, 1, 1, 2, 1], pa.int64()),
    "channel": ["web", "web", "fax", "store", "mobile"],
    "amount": pa.array([Decimal("5.00"), Decimal("-1.00"), Decimal("7.50"), Decimal("999.00"), Decimal("3.00")],
                       pa.decimal128(18, 2)),
    "currency": ["USD", "usd", "USD", "EURO", None],
    "product_id": ["P1", "P2", "P9", "P1", "P1"],
    "customer_id": [None, None, "C1", "C2", None],
    "event_time": pa.array([datetime(2026, 9, 1, tzinfo=UTC)] * 5, pa.timestamp("us", "UTC")),
})


@pytest.fixture
def gate() -> Iterator[QualityGate]:
    engine = DuckDBEngine()
    engine.register("rows", ROWS)
    engine.register("ref_products", pa.table({"product_id": ["P1", "P2"]}))
    yield QualityGate(engine, {}, "silver", "run", WebhookAlerter(None))
    engine.close()


def violations(gate: QualityGate, rule: dict, relation: str = "rows", history: str | None = None) -> int:
    gate.suite = {"t": [RULE.validate_python(rule)]}
    [result] = gate.check("t", relation, "p", history)
    assert result.passed == (result.violating_rows == 0)
    return result.violating_rows


@pytest.mark.parametrize("rule,expected", [
    ({"kind": "not_null", "columns": ["event_id"]}, 1),
    ({"kind": "not_null", "columns": ["event_id", "customer_id"]}, 3),
    ({"kind": "unique", "columns": ["event_id"]}, 2),
    ({"kind": "unique", "columns": ["event_id", "line"]}, 0),
    ({"kind": "unique", "columns": ["order_id"]}, 0),
    ({"kind": "accepted_values", "column": "channel", "values": ["web", "mobile", "store"]}, 1),
    ({"kind": "range", "column": "amount", "min": 0}, 1),
    ({"kind": "range", "column": "amount", "min": 0, "max": 100}, 2),
    ({"kind": "regex", "column": "currency", "pattern": "[A-Z]{3}"}, 2),
    ({"kind": "referential_integrity", "column": "product_id", "references": "ref_products.product_id"}, 1),
    ({"kind": "null_rate", "column": "customer_id", "max_rate": 0.5}, 1),
    ({"kind": "null_rate", "column": "customer_id", "max_rate": 0.6}, 0),
    ({"kind": "sql", "sql": "SELECT * FROM {{ relation }} WHERE amount > 500"}, 1),
])
def test_kind_finds_exactly_the_violations(gate: QualityGate, rule: dict, expected: int) -> None:
    assert violations(gate, rule) == expected


def test_referential_integrity_holds_when_the_reference_has_a_null_key(gate: QualityGate) -> None:
    """A NULL among the reference keys must not hide the orphans (NOT IN's trap)."""
    gate.engine.register("ref_products", pa.table({"product_id": ["P1", "P2", None]}))
    gate.engine.register("with_null", ROWS.set_column(6, "product_id", pa.array(["P1", "P2", "P9", None, "P7"])))
    rule = {"kind": "referential_integrity", "column": "product_id", "references": "ref_products.product_id"}
    assert violations(gate, rule, "with_null") == 2


def test_freshness(gate: QualityGate) -> None:
    assert violations(gate, {"kind": "freshness", "column": "event_time", "max_age_seconds": 3600}) == 1
    fresh = pa.table({"event_time": pa.array([datetime.now(UTC) - timedelta(minutes=5)], pa.timestamp("us", "UTC"))})
    gate.engine.register("fresh", fresh)
    assert violations(gate, {"kind": "freshness", "column": "event_time", "max_age_seconds": 3600}, "fresh") == 0


def test_volume_against_trailing_median(gate: QualityGate) -> None:
    days = [date(2026, 9, 1) + timedelta(days=i) for i in range(9)]
    counts = [100, 110, 90, 105, 95, 100, 100, 102, 20]  # the last day collapses
    # Row counts per day, a day's count split over two batches as the runner may hand it over.
    history = pa.table({"event_date": days + days[:4], "rows": [n - 10 for n in counts] + [10] * 4})
    history = pa.concat_tables([history, pa.table({"event_date": days[4:], "rows": [10] * 5})])
    gate.engine.register("history", history)
    gate.engine.register("normal_day", pa.table({"event_date": [days[7]]}))
    gate.engine.register("bad_day", pa.table({"event_date": [days[8]]}))
    gate.engine.register("young_day", pa.table({"event_date": [days[3]]}))  # fewer than 7 days of history
    rule = {"kind": "volume", "tolerance": 0.5}
    assert violations(gate, rule, "normal_day", "history") == 0
    assert violations(gate, rule, "bad_day", "history") == 1
    assert violations(gate, rule, "young_day", "history") == 0


def test_schema_reports_missing_changed_and_unexpected(gate: QualityGate) -> None:
    declared = {"event_id": "VARCHAR", "amount": "DECIMAL(18,2)", "line": "INTEGER", "gone": "DATE"}
    rule = {"kind": "schema", "columns": declared}
    gate.suite = {"t": [RULE.validate_python(rule)]}
    [result] = gate.check("t", "(SELECT event_id, amount, line, channel FROM rows)", "p")
    drift = {row["column_name"]: row["drift"] for row in result.sample}
    assert drift == {"line": "type_changed", "gone": "missing", "channel": "unexpected"}
    relaxed = {**rule, "strict": False, "columns": {"event_id": "VARCHAR", "amount": "DECIMAL(18,2)"}}
    assert violations(gate, relaxed) == 0


def test_quarantine_keys_take_the_first_rule(gate: QualityGate) -> None:
    gate.suite = {"t": [RULE.validate_python({"kind": "range", "column": "amount", "min": 0, "action": "quarantine",
                                              "rule": "negative"}),
                        RULE.validate_python({"kind": "range", "column": "amount", "max": 100, "action": "quarantine",
                                              "rule": "too_big"}),
                        RULE.validate_python({"kind": "regex", "column": "currency", "pattern": "[A-Z]{3}"})]}
    found = {r["event_id"]: r["rule"] for r in gate.quarantined_events("t", "rows").to_pylist()}
    assert found == {"b": "negative", "c": "too_big"}  # warn rules never quarantine
