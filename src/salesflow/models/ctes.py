"""A model's ``AS MATERIALIZED`` common table expressions, taken out to be computed once.

A model says which of its CTEs to compute once with the PostgreSQL / DuckDB keyword
(``WITH valid AS MATERIALIZED (...)``), which DuckDB honours itself. Spark SQL has no such keyword
and plans a CTE again at each reference: ``silver.deduped_events`` computed its valid events three
times and its verdicts (joins and a running max over the whole batch) twice. The Spark engine
computes each such CTE first, as a relation of its own, and runs the model over those.

Only where the model says so: a CTE read twice may still be cheaper inlined (``silver.seen_keys``
reads its batch keys in two semi-joins that Spark drops outright while the state is empty)."""

from __future__ import annotations

from collections import Counter

import sqlglot
from sqlglot import exp


def split_materialized(sql: str, prefix: str) -> tuple[list[tuple[str, str]], str]:
    """``(relation, query)`` for each top-level ``MATERIALIZED`` CTE of ``sql`` that is read, in
    order (a later query may read an earlier relation), and ``sql`` reading those relations
    instead. The relations are named ``prefix`` + the CTE's name. A model without such a CTE, or
    with a recursive or nested WITH (where a name could mean two things), comes back unchanged."""
    if "MATERIALIZED" not in sql.upper():  # every Spark model comes here: most need no parse
        return [], sql
    tree = sqlglot.parse_one(sql, read="duckdb")
    with_ = tree.args.get("with_")
    if with_ is None or with_.args.get("recursive") or sum(1 for _ in tree.find_all(exp.With)) > 1:
        return [], sql
    reads = _reads(tree)
    shared: list[tuple[str, str]] = []
    for cte in list(with_.expressions):
        name = cte.alias_or_name
        if not cte.args.get("materialized") or not reads[name]:
            continue
        before = [c.copy() for c in with_.expressions[:_position(with_, cte)]]
        body = cte.this.copy()
        if before:  # the CTEs before it, which it may read (a MATERIALIZED one is a relation by now)
            body.set("with_", exp.With(expressions=before))
        shared.append((prefix + name, _pruned(body).sql(dialect="duckdb")))
        cte.pop()
        _rename(tree, name, prefix + name)
    return shared, _pruned(tree).sql(dialect="duckdb")


def _pruned(query: exp.Expr) -> exp.Expr:
    """``query`` without the CTEs nothing reads any more."""
    with_ = query.args.get("with_")
    while with_ is not None:
        read = _reads(query)
        unread = [c for c in with_.expressions if not read[c.alias_or_name]]
        if not unread:
            break
        for cte in unread:
            cte.pop()
        if not with_.expressions:
            query.set("with_", None)
            break
    return query


def _reads(query: exp.Expr) -> Counter[str]:
    """How many times ``query`` reads each relation or CTE by name."""
    return Counter(table.name for table in query.find_all(exp.Table) if not table.args.get("db"))


def _position(with_: exp.With, cte: exp.CTE) -> int:
    """How many CTEs come before ``cte`` (those its query may read)."""
    return next(i for i, c in enumerate(with_.expressions) if c is cte)


def _rename(tree: exp.Expr, name: str, relation: str) -> None:
    """Every read of CTE ``name`` reads ``relation``, under the name it was read by."""
    for table in list(tree.find_all(exp.Table)):
        if table.name == name and not table.args.get("db"):
            table.replace(exp.Table(this=exp.to_identifier(relation),
                                    alias=exp.TableAlias(this=exp.to_identifier(table.alias or name))))
