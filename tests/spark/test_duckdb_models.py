"""Row-wise models run by DuckDB in the executors (``spark.duckdb_models``) give the rows Spark
SQL's translation gives, refuse models that are not row-wise, and report DuckDB's data errors as
data errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from salesflow.engine.spark import SparkEngine
from salesflow.errors import ModelError
from salesflow.models import Model, load_model
from salesflow.models.row_wise import row_input
from tests.spark.conftest import engine_settings


@pytest.mark.parametrize(("sql", "relation"), [
    ("SELECT a, b + 1 AS c FROM t WHERE a > 0", "t"),
    ("WITH x AS (SELECT *, a * 2 AS d FROM t), y AS (SELECT *, d + 1 AS e FROM x) SELECT e FROM y", "t"),
    ("SELECT list_filter(k, lambda v: v <> 'a') AS f, CASE WHEN a THEN 1 END AS g FROM \"t\"", "t"),
])
def test_row_wise_models_name_their_one_input(sql: str, relation: str) -> None:
    assert row_input(sql, "t.m") == relation


@pytest.mark.parametrize(("sql", "why"), [
    ("SELECT a FROM t JOIN u USING (a)", "Join"),
    ("SELECT sum(a) AS s FROM t", "Sum"),
    ("SELECT a, count(*) AS n FROM t GROUP BY a", "Count, Group"),
    ("SELECT a, row_number() OVER (ORDER BY a) AS n FROM t", "Order, Window"),
    ("SELECT DISTINCT a FROM t", "Distinct"),
    ("SELECT a FROM t ORDER BY a LIMIT 3", "Limit, Order"),
    ("SELECT a FROM t UNION ALL SELECT a FROM t", "Union"),
    ("SELECT a, now() AS at FROM t", "now()"),
    ("SELECT a, current_timestamp AS at, uuid() AS u FROM t", "CurrentTimestamp, Uuid"),
    ("SELECT a FROM t WHERE a IN (SELECT a FROM u)", "reads 2 relations"),
    ("SELECT 1 AS a", "reads 0 relations"),
])
def test_anything_else_is_refused_in_one_line(sql: str, why: str) -> None:
    with pytest.raises(ModelError, match="t.m cannot run in DuckDB on the executors: it is not row-wise") as caught:
        row_input(sql, "t.m")
    assert why in str(caught.value) and "\n" not in str(caught.value)


def test_the_shipped_default_is_row_wise() -> None:
    from salesflow.config import SparkConfig

    for name in SparkConfig().duckdb_models:
        assert row_input(load_model(name).sql.replace("{{", "'").replace("}}", "'"), name)


SCALAR = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=6)
PAYLOAD = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(["j", "s", "J"]), inner, max_size=3), max_leaves=6)
MODEL = Model("t.parse", """
    WITH d AS (
        SELECT id, payload, CASE WHEN json_valid(payload) AND starts_with(payload, '{')
            THEN json_transform(payload, '{"s":"VARCHAR","j":"JSON"}') END AS f
        FROM t)
    SELECT id, f.s AS s, f.j AS j, json_type(f.j) AS j_type, TRY_CAST(CAST(f.j AS VARCHAR) AS BIGINT) AS n,
        CASE WHEN f IS NOT NULL THEN json_type(payload, ['$.s', '$.j']) END AS types
    FROM d""")


@given(values=st.lists(st.fixed_dictionaries({}, optional={"s": PAYLOAD, "j": PAYLOAD, "J": PAYLOAD}), max_size=80))
@examples(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_duckdb_in_the_executors_gives_duckdbs_rows(spark_session: object, tmp_path: Path,
                                                    values: list[dict[str, object]]) -> None:
    """Any JSON read by the model in the executors' DuckDB gives the rows the DuckDB engine gives,
    with a JSON column passing into Spark (as VARIANT) and back into the next row-wise model.
    Few examples of many rows: each example is several Spark jobs."""
    import json

    from salesflow.engine.duckdb import DuckDBEngine

    rows = pa.table({"id": list(range(len(values) + 3)),
                     "payload": [json.dumps(v) for v in values] + ["{not json", '{"s":"a","j":[]}', '{"s":1,"s":2}']})
    again = Model("t.again", "SELECT id, j, json_type(j) AS j_type_again FROM parsed")
    results = []
    config = engine_settings(tmp_path, "spark", spark={"duckdb_models": ["t.parse", "t.again"]}).spark
    for engine in (DuckDBEngine(), SparkEngine(config, session=spark_session)):  # type: ignore[arg-type]
        engine.register("t", rows)
        engine.run_into("parsed", MODEL)
        engine.run_into("again", again)
        got = engine.query("SELECT id, p.s, CAST(p.j AS VARCHAR) AS j, p.j_type, p.n, p.types, "
                           "CAST(a.j AS VARCHAR) AS j_again, a.j_type_again FROM parsed p JOIN again a USING (id) "
                           "ORDER BY id").to_pylist()
        results.append([{**row, "j": _value(row["j"]), "j_again": _value(row["j_again"])} for row in got])
        if isinstance(engine, DuckDBEngine):
            engine.close()
    assert results[0] == results[1]


def _value(text: object) -> object:
    """A JSON text as its value: Spark writes a VARIANT back in its own spelling (1e2 as 100.0)."""
    import json

    return None if text is None else json.loads(str(text))


def test_a_model_that_is_not_row_wise_is_refused_by_name(spark_session: object, tmp_path: Path) -> None:
    config = engine_settings(tmp_path, "spark", spark={"duckdb_models": ["t.total"]}).spark
    engine = SparkEngine(config, session=spark_session)  # type: ignore[arg-type]
    engine.register("t", pa.table({"x": [1, 2]}))
    with pytest.raises(ModelError, match=r"t\.total cannot run in DuckDB on the executors: it is not row-wise"):
        engine.run_into("total", Model("t.total", "SELECT sum(x) AS s FROM t"))


def test_duckdbs_data_errors_are_data_errors_on_spark(spark_session: object, tmp_path: Path) -> None:
    """A value DuckDB cannot convert fails the model on the executor; the driver sees Spark's
    wrapping of it and still knows it for a data error (the batch is quarantined, not retried)."""
    config = engine_settings(tmp_path, "spark", spark={"duckdb_models": ["t.cast"]}).spark
    engine = SparkEngine(config, session=spark_session)  # type: ignore[arg-type]
    engine.register("t", pa.table({"x": ["1", "two"]}))
    with pytest.raises(ModelError) as caught:
        engine.run_into("cast", Model("t.cast", "SELECT CAST(x AS INTEGER) AS n FROM t"))
    assert SparkEngine.is_data_error(caught.value)


def test_hostile_records_get_duckdbs_verdicts_on_spark(tmp_path: Path, spark_session: object) -> None:
    """Every hand-made bad record of the hostile-input suite (repeated keys inside lines, NULs,
    years beyond 9999, numbers beyond BIGINT, a 2 MB payload ...) through Spark with the parse in
    the executors' DuckDB: the DuckDB engine's verdict and detail, record by record, and the same
    Silver rows. All in Spark SQL, the verdicts agree but for one record, named below."""
    from salesflow.jobs.batch import run_batch
    from salesflow.lake.tables import QUARANTINE, SILVER_TABLES
    from salesflow.sources.landing import LandingLog
    from tests.pipeline.test_hostile_input import CASES
    from tests.spark.conftest import table_rows

    lakes = {}
    for label, duckdb_models in (("duckdb", None), ("spark", ["silver.parsed_events", "silver.parsed_lines"]),
                                 ("spark_sql", [])):
        spark = {} if duckdb_models is None else {"duckdb_models": duckdb_models}
        settings = engine_settings(tmp_path / label, "duckdb" if duckdb_models is None else "spark", spark=spark)
        LandingLog(settings.landing_dir).append(payload for payload, _ in CASES)
        run_batch(settings)
        verdicts = {int(r["source_position"].rsplit(":", 1)[-1]): (r["reason"], r["reason_detail"])
                    for r in table_rows(settings, QUARANTINE)}
        lakes[label] = (verdicts, {spec.qualified: [_positioned(row) for row in table_rows(settings, spec)]
                                   for spec in SILVER_TABLES if spec is not QUARANTINE})
    duck, spark, spark_sql = lakes["duckdb"], lakes["spark"], lakes["spark_sql"]
    assert len(duck[0]) > len(CASES) / 2
    assert spark == duck
    # Spark's JSON parser refuses a key repeated anywhere; the contract only where a rule reads it,
    # so a repeated key inside an unknown (drift) field is accepted on DuckDB. Spark SQL alone
    # quarantines that record whole (kept, with a reason: nothing is lost).
    nested = next(i for i, (payload, _) in enumerate(CASES, start=1) if b'"k": 1, "k": 2' in payload)
    assert nested not in duck[0] and spark_sql[0].pop(nested)[0] == "malformed_json"
    assert {k: reason for k, (reason, _) in spark_sql[0].items()} == {k: reason for k, (reason, _) in duck[0].items()}
    # The lines that parse keeps as DuckDB's JSON text cannot be read by Spark SQL's parser alike.
    settings = engine_settings(tmp_path / "mixed", "spark", spark={"duckdb_models": ["silver.parsed_events"]})
    LandingLog(settings.landing_dir).append(payload for payload, _ in CASES)
    with pytest.raises(ModelError, match=r"silver.parsed_lines reads parsed_events.lines, JSON that DuckDB wrote "
                                         r"on the executors: .* add silver.parsed_lines to spark.duckdb_models"):
        run_batch(settings)


def _positioned(row: dict[str, object]) -> dict[str, object]:
    """A Silver row with its line in the landing segment, not the segment's name (each run's own)."""
    position = row.get("source_position")
    return {**row, "source_position": str(position).rsplit(":", 1)[-1]} if position is not None else row
