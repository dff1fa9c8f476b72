"""The DuckDB adapter's ways of keeping a model's result for later models."""

from __future__ import annotations

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
