"""MATERIALIZED CTEs taken out of a model (salesflow.models.ctes): the same rows, each computed once."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesflow.models import load_model
from salesflow.models.ctes import split_materialized

CHAIN = """
WITH base AS (SELECT k, v FROM t WHERE v IS NOT NULL),
     doubled AS MATERIALIZED (SELECT k, v * 2 AS v FROM base),
     top AS (SELECT k, max(v) AS v FROM doubled GROUP BY k),
     once AS (SELECT k FROM t WHERE v IS NULL),
     unread AS MATERIALIZED (SELECT 1 AS x)
SELECT d.k, d.v, top.v AS top_v, (SELECT count(*) FROM once) AS nulls
FROM doubled d JOIN top USING (k)
WHERE d.v > (SELECT min(v) FROM doubled)
ORDER BY ALL
"""


def _run_split(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    shared, main = split_materialized(sql, "m__")
    for relation, query in shared:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS {query}")
    return con.execute(main).fetchall()


def test_a_materialized_cte_becomes_a_relation_and_the_others_stay() -> None:
    shared, main = split_materialized(CHAIN, "m__")
    assert [name for name, _ in shared] == ["m__doubled"]  # unread is not computed at all
    doubled = shared[0][1]
    assert "base AS" in doubled and "FROM t" in doubled  # the CTE it reads comes along
    assert "doubled AS (" not in main and "FROM m__doubled AS d " in main and "base AS (" not in main  # nothing unread
    assert "top AS" in main and "once AS" in main


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(-50, 50))), max_size=30))
def test_split_gives_the_rows_of_the_whole_query(rows: list[tuple[int, int | None]]) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    assert _run_split(con, CHAIN) == con.execute(CHAIN).fetchall()


def test_a_reference_without_alias_keeps_its_qualified_columns() -> None:
    sql = ("WITH c AS MATERIALIZED (SELECT 1 AS x UNION ALL SELECT 2) "
           "SELECT c.x, (SELECT max(c.x) FROM c) AS m FROM c ORDER BY c.x")
    con = duckdb.connect()
    assert _run_split(con, sql) == con.execute(sql).fetchall() == [(1, 2), (2, 2)]


@pytest.mark.parametrize("sql", [
    "SELECT 1 AS x",
    "WITH c AS (SELECT 1 AS x) SELECT x FROM c, c AS d",
    "WITH RECURSIVE r AS MATERIALIZED (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
    "SELECT * FROM r, r AS s",
    "WITH c AS MATERIALIZED (SELECT 1 AS x) SELECT * FROM (WITH c AS (SELECT 2 AS x) SELECT x FROM c), c AS d",
])
def test_what_it_leaves_whole(sql: str) -> None:
    assert split_materialized(sql, "m__") == ([], sql)


def test_deduped_events_computes_its_valid_events_and_verdicts_once() -> None:
    sql = load_model("silver.deduped_events").render(watermark="TIMESTAMP '2020-01-01'", allowed_lateness_seconds=60)
    shared, main = split_materialized(sql, "deduped_events__")
    assert [name for name, _ in shared] == ["deduped_events__valid", "deduped_events__first_event",
                                            "deduped_events__first_order", "deduped_events__prior",
                                            "deduped_events__verdicts", "deduped_events__repeated",
                                            "deduped_events__firsts", "deduped_events__conflicts"]
    assert "classified_events" not in main  # the valid events are read from their relation only
