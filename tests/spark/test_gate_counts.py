"""The quality gate's one counting query on Spark: the same counts as DuckDB's, each rule's own
violation query counted alone (tests/quality/test_counting.py holds the property on DuckDB)."""

from __future__ import annotations

import pyarrow as pa

from salesflow.config import SparkConfig
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.engine.spark import SparkEngine
from tests.quality.test_counting import RULE, RULES, _checked, _one_by_one, _table, duck  # noqa: F401 - the fixture


def test_spark_counts_as_duckdb_does(duck: DuckDBEngine, spark_session: object) -> None:  # noqa: F811 - the fixture
    spark = SparkEngine(SparkConfig(master="local[2]", shuffle_partitions=2, keep_session=True),
                        session=spark_session)  # type: ignore[arg-type]
    rules = [RULE.validate_python(r) for r in RULES]
    spark.register("ref_s", pa.table({"s": ["x", "z"]}))
    for rows in ([], [(None, None, None)], [(1, "x", 10), (1, "z", 9000), (-3, None, None), (None, "xy", 5)]):
        duck.register("rows", _table(rows))
        spark.register("rows", _table(rows))
        expected = _one_by_one(duck, "rows", rules)
        assert _checked(spark, "rows", rules) == expected == _checked(duck, "rows", rules), rows
        assert any(expected.values()) or not rows
