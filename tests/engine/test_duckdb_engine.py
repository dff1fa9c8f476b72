"""The DuckDB adapter's ways of keeping a model's result for later models."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from salesflow.engine.duckdb import DuckDBEngine
from salesflow.models import Model


def test_a_defined_relation_is_a_view_that_reads_its_inputs_as_they_are_now() -> None:
    """run_into(view=True) keeps the SQL, not the rows: a later model reads through it (so it can
    read only the columns it needs), and it follows its inputs when they are replaced, as the
    next micro-batch replaces them. A materialized relation keeps the rows it was made from."""
    engine = DuckDBEngine()
    engine.register("batch", pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]}))
    engine.run_into("kept", Model("t.kept", "SELECT k, v FROM batch WHERE k > {{ low }}"), low=1)
    engine.run_into("seen", Model("t.seen", "SELECT k, v FROM batch WHERE k > {{ low }}"), view=True, low=1)
    assert engine.query("SELECT table_type FROM information_schema.tables WHERE table_name = 'seen'"
                        ).to_pylist() == [{"table_type": "VIEW"}]
    engine.register("batch", pa.table({"k": [5, 0], "v": ["e", "z"]}))
    assert engine.query("SELECT v FROM seen ORDER BY k")["v"].to_pylist() == ["e"]
    assert engine.query("SELECT v FROM kept ORDER BY k")["v"].to_pylist() == ["b", "c"]


def test_the_engine_reads_and_writes_lake_tables_as_relations(tmp_path: Path) -> None:
    """The table-I/O contract: a table at a version, narrowed by a predicate, into a relation; a
    model's result kept as a relation; a relation written once per (app, batch) with a scope."""
    from salesflow.engine.base import Txn, WriteScope
    from salesflow.lake.delta import Lake
    from salesflow.lake.tables import TableSpec

    spec = TableSpec("test", "t", ("day",))
    lake, engine = Lake(str(tmp_path)), DuckDBEngine()
    schema = pa.schema([("day", pa.string()), ("v", pa.int64())])
    assert not engine.read_table(lake, spec, "missing", empty=schema) and engine.rows("missing") == 0
    engine.register("src", pa.table({"day": ["d1", "d1", "d2"], "v": pa.array([1, 2, 3], pa.int64())}))
    engine.compute_sql("doubled", "SELECT day, v * 2 AS v FROM src")
    assert engine.write_table(lake, spec, "doubled", WriteScope.append(), Txn("app", 0))
    assert not engine.write_table(lake, spec, "doubled", WriteScope.append(), Txn("app", 0))  # once per batch
    engine.compute_sql("d1_again", "SELECT 'd1' AS day, CAST(100 AS BIGINT) AS v")
    assert engine.write_table(lake, spec, "d1_again", WriteScope.replace("day = 'd1'"), Txn("app", 1))
    assert engine.read_table(lake, spec, "recent", predicate="day = 'd1'")
    assert engine.query("SELECT v FROM recent")["v"].to_pylist() == [100]
    assert engine.read_table(lake, spec, "earlier", version=0, columns=["v"])
    assert sorted(engine.query("SELECT v FROM earlier")["v"].to_pylist()) == [2, 4, 6]
    assert engine.rows("earlier") == 3 and lake.txn_version(spec, "app") == 1
    # A column a newer version reads that an older one did not write (gold.daily_sales.returns) is null.
    wider = pa.schema([*schema, ("returns", pa.decimal128(18, 2))])
    assert engine.read_table(lake, spec, "wide", predicate="day = 'd2'", columns=wider.names, empty=wider)
    assert engine.query("SELECT day, v, returns FROM wide").to_pylist() == [{"day": "d2", "v": 6, "returns": None}]
