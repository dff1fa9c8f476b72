"""A table's rules are counted in one query (row-level and whole-table rules share one scan; the
schema rule is judged from the columns alone): every count must equal the rule's own violation
query, whatever the rows, on DuckDB and on Spark."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from salesflow.engine.base import EngineAdapter
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.models import sql_literal
from salesflow.quality.alerts import WebhookAlerter
from salesflow.quality.expectations import Expectation
from salesflow.quality.gate import QualityGate

RULE: TypeAdapter[Expectation] = TypeAdapter(Expectation)  # type: ignore[arg-type]
RULES = [
    {"kind": "not_null", "columns": ["a"]},
    {"kind": "not_null", "columns": ["a", "s"]},
    {"kind": "accepted_values", "column": "s", "values": ["x", "y"]},
    {"kind": "range", "column": "a", "min": 0},
    {"kind": "range", "column": "a", "min": -5, "max": 5},
    {"kind": "regex", "column": "s", "pattern": "[a-x]"},
    {"kind": "null_rate", "column": "s", "max_rate": 0.25},
    {"kind": "freshness", "column": "t", "max_age_seconds": 3600},
    {"kind": "unique", "columns": ["a"]},
    {"kind": "referential_integrity", "column": "s", "references": "ref_s.s"},
    {"kind": "sql", "rule": "negative_a", "sql": "SELECT * FROM {{ relation }} WHERE a < 0"},
    {"kind": "schema", "columns": {"a": "BIGINT", "s": "VARCHAR", "t": "TIMESTAMP WITH TIME ZONE"}},
    {"kind": "schema", "rule": "drifted", "columns": {"a": "INTEGER", "gone": "DATE"}},
    {"kind": "schema", "rule": "lenient", "strict": False, "columns": {"s": "VARCHAR"}},
]
ROWS = st.lists(st.tuples(st.none() | st.integers(-9, 9), st.none() | st.sampled_from(["x", "y", "z", "", "xy"]),
                          st.none() | st.sampled_from([0, 60, 1800, 5400, 7200])), max_size=30)
"""Ages in seconds far from the freshness rule's hour: the gate reads the clock a moment later."""


def _table(rows: list[tuple[Any, Any, Any]]) -> pa.Table:
    now = datetime.now(UTC)
    return pa.table({
        "a": pa.array([r[0] for r in rows], pa.int64()),
        "s": pa.array([r[1] for r in rows], pa.string()),
        "t": pa.array([None if r[2] is None else now - timedelta(seconds=r[2]) for r in rows],
                      pa.timestamp("us", "UTC")),
    })


def _one_by_one(engine: EngineAdapter, relation: str, rules: list[Any]) -> dict[str, int]:
    """Each rule's own violation query, counted alone (as the gate did before the fold)."""
    now = sql_literal(datetime.now(UTC))
    queries = {rule.name: rule.violations(relation).replace("{{ now }}", now) for rule in rules}
    return {name: engine.query(f"SELECT count(*) AS n FROM ({sql}) v").to_pylist()[0]["n"]  # noqa: S608 - the rules' SQL
            for name, sql in queries.items()}


def _checked(engine: EngineAdapter, relation: str, rules: list[Any]) -> dict[str, int]:
    gate = QualityGate(engine, {"t": rules}, "silver", "run", WebhookAlerter(None))
    results = gate.check("t", relation, "p")
    assert [r.rule for r in results] == [rule.name for rule in rules]
    for r in results:
        assert r.passed == (r.violating_rows == 0) and len(r.sample) == min(r.violating_rows, gate.sample_rows)
    return {r.rule: r.violating_rows for r in results}


@pytest.fixture(scope="module")
def duck() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    engine.register("ref_s", pa.table({"s": ["x", "z"]}))
    yield engine
    engine.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, chosen=st.lists(st.sampled_from(range(len(RULES))), min_size=1, max_size=6, unique=True))
def test_one_query_counts_what_each_rule_counts_alone(duck: DuckDBEngine, rows: list[tuple[Any, Any, Any]],
                                                     chosen: list[int]) -> None:
    duck.register("rows", _table(rows))
    rules = [RULE.validate_python(RULES[i]) for i in chosen]
    assert _checked(duck, "rows", rules) == _one_by_one(duck, "rows", rules)


def test_the_schema_rule_reports_what_its_query_reports(duck: DuckDBEngine) -> None:
    duck.register("rows", _table([(1, "x", 5)]))
    for raw in (r for r in RULES if r["kind"] == "schema"):
        rule = RULE.validate_python(raw)
        by_query = duck.query(rule.violations("rows")).to_pylist()
        judged = rule.on_columns(duck.describe("rows"))
        key = lambda row: row["column_name"]  # noqa: E731
        assert sorted(judged, key=key) == sorted(by_query, key=key)
