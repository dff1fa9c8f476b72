"""What a model's SQL reads, and whether it is row-wise: each output row made from one input row of
one relation (no join, aggregate, window, ordering, set operation or clock). A row-wise model gives
the same rows however its input is split, so an engine may run it part by part where the rows are
(salesflow.engine.spark_duckdb) or fuse it with the pass that carries its input along
(salesflow.bronze.rows)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from salesflow.errors import ModelError

NOT_ROW_WISE = (exp.Join, exp.Window, exp.AggFunc, exp.Group, exp.Distinct, exp.Order, exp.Limit,
                exp.SetOperation, exp.CurrentTimestamp, exp.CurrentDate, exp.Rand, exp.Uuid)
"""What makes a row depend on other rows (or on when and where it is computed)."""
VOLATILE = frozenset({"now", "get_current_timestamp", "transaction_timestamp", "current_localtimestamp",
                      "nextval", "currval", "setseed"})
"""Functions SQLGlot does not know by type whose value depends on when or where they run."""


def row_input(sql: str, source: str, purpose: str = "run in DuckDB on the executors") -> str:
    """The one relation a row-wise query reads; a ModelError says why ``sql`` is not row-wise
    (and so cannot serve ``purpose``)."""
    return _row_input(_parsed(sql, source, purpose), source, purpose)


def _parsed(sql: str, source: str, purpose: str) -> exp.Expr:
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise ModelError(f"{source} cannot {purpose}: {exc}") from exc


def _row_input(tree: exp.Expr, source: str, purpose: str) -> str:
    found = sorted({type(node).__name__ for node in tree.walk() if isinstance(node, NOT_ROW_WISE)}
                   | {f"{node.name}()" for node in tree.find_all(exp.Anonymous) if node.name.lower() in VOLATILE})
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    relations = sorted({table.name for table in tree.find_all(exp.Table) if table.name not in ctes})
    if found or len(relations) != 1:
        why = f"it uses {', '.join(found)}" if found else f"it reads {len(relations)} relations"
        raise ModelError(f"{source} cannot {purpose}: it is not row-wise ({why})")
    return relations[0]


def relations_and_columns(sql: str) -> tuple[set[str], set[str]]:
    """The relation names a query mentions and the column names it passes to a function (a JSON
    function, a cast ...: where Spark would parse a JSON text)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return ({t.name for t in tree.find_all(exp.Table)},
            {c.name for c in tree.find_all(exp.Column) if isinstance(c.find_ancestor(exp.Func, exp.Select), exp.Func)})


def beside_input(sql: str, source: str, carried: list[str], purpose: str) -> tuple[str, list[str]] | None:
    """A row-wise model's SELECT with the input columns ``carried`` added to its own, and its own
    column names; None when the model is not one plain SELECT of named columns (a CTE, a star),
    where the caller joins the two instead."""
    tree = _parsed(sql, source, purpose)
    _row_input(tree, source, purpose)
    if not isinstance(tree, exp.Select) or tree.args.get("with_") \
            or any(isinstance(e, exp.Star) or not e.alias_or_name for e in tree.expressions):
        return None
    own = [e.alias_or_name for e in tree.expressions]
    extra = [exp.column(c, quoted=True) for c in carried if c not in own]
    return tree.select(*extra, copy=True).sql(dialect="duckdb"), own


def reading(sql: str, relation: str, instead: str) -> str:
    """``sql`` with relation ``relation`` replaced by the query ``instead`` (under the same name)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    replacement = sqlglot.parse_one(instead, read="duckdb")
    for table in list(tree.find_all(exp.Table)):
        if table.name == relation:
            table.replace(exp.Subquery(this=replacement.copy(), alias=exp.TableAlias(this=exp.to_identifier(
                table.alias_or_name))))
    return tree.sql(dialect="duckdb")
