"""Expectation kinds. Each one compiles to a SQL query returning the violating rows.

A violation query selects from the relation under check (``{{ relation }}``), so the same rule runs
on a micro-batch or a whole table, on DuckDB or any engine adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from salesflow.models import sql_literal

Action = Literal["warn", "quarantine", "fail"]


def ident(name: str) -> str:
    if not name.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"{name!r} is not a plain column name")
    return '"' + name + '"'


class _Expectation(BaseModel, ABC):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = ""
    """Unique name; quarantined rows carry it as their reason. Defaults to kind + columns."""
    action: Action = "warn"
    description: str = ""

    def default_name(self) -> str:
        return self.kind  # type: ignore[attr-defined, no-any-return]

    @property
    def name(self) -> str:
        return self.rule or self.default_name()

    @abstractmethod
    def violations(self, relation: str) -> str:
        """SQL returning the violating rows of ``relation`` (``{{ now }}``/``{{ history }}`` filled later)."""

    def counted(self) -> str | None:
        """An aggregate over the checked relation equal to ``count(*)`` of ``violations``, so that
        the rules of one table share a scan (QualityGate.check); None: counted on its own."""
        return None


class _RowRule(_Expectation, ABC):
    """A rule on each row alone: a condition, so its count folds into the table's one scan."""

    @abstractmethod
    def test(self) -> str:
        """The condition a violating row meets."""

    def violations(self, relation: str) -> str:
        return f"SELECT * FROM {relation} WHERE {self.test()}"  # noqa: S608 - identifiers via ident(), values via sql_literal()

    def counted(self) -> str:
        return f"count(*) FILTER (WHERE {self.test()})"


class _TableRule(_Expectation, ABC):
    """A rule on the relation as a whole: one aggregate condition, so it folds into the scan too."""

    @abstractmethod
    def breached(self) -> str:
        """The aggregate condition under which the relation violates the rule (one row)."""

    def counted(self) -> str:
        return f"CASE WHEN {self.breached()} THEN 1 ELSE 0 END"


class ColumnRule(_Expectation, ABC):
    """A rule judged from the relation's columns alone, without a query (QualityGate.check)."""

    @abstractmethod
    def on_columns(self, actual: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """The rows ``violations`` gives, from the columns and DuckDB type names of the relation."""


class NotNull(_RowRule):
    kind: Literal["not_null"]
    columns: list[str]

    def default_name(self) -> str:
        return f"not_null_{'_'.join(self.columns)}"

    def test(self) -> str:
        return " OR ".join(f"{ident(c)} IS NULL" for c in self.columns)


class Unique(_Expectation):
    kind: Literal["unique"]
    columns: list[str]

    def default_name(self) -> str:
        return f"unique_{'_'.join(self.columns)}"

    def violations(self, relation: str) -> str:
        cols = ", ".join(ident(c) for c in self.columns)
        return (f"SELECT * FROM {relation} WHERE ({cols}) IN "  # noqa: S608 - identifiers via ident(), values via sql_literal()
                f"(SELECT ({cols}) FROM {relation} GROUP BY {cols} HAVING count(*) > 1)")


class AcceptedValues(_RowRule):
    kind: Literal["accepted_values"]
    column: str
    values: list[str | int | float]

    def default_name(self) -> str:
        return f"accepted_values_{self.column}"

    def test(self) -> str:
        return f"{ident(self.column)} NOT IN {sql_literal(tuple(self.values))}"


class Range(_RowRule):
    kind: Literal["range"]
    column: str
    min: float | None = None
    max: float | None = None

    def default_name(self) -> str:
        return f"range_{self.column}"

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        return self

    def test(self) -> str:
        tests = []
        if self.min is not None:
            tests.append(f"{ident(self.column)} < {self.min!r}")
        if self.max is not None:
            tests.append(f"{ident(self.column)} > {self.max!r}")
        return " OR ".join(tests)


class Regex(_RowRule):
    kind: Literal["regex"]
    column: str
    pattern: str

    def default_name(self) -> str:
        return f"regex_{self.column}"

    def test(self) -> str:
        column = ident(self.column)
        return f"{column} IS NOT NULL AND NOT regexp_full_match({column}, {sql_literal(self.pattern)})"


class ReferentialIntegrity(_Expectation):
    kind: Literal["referential_integrity"]
    column: str
    references: str
    """``relation.column``: ``ref_products.product_id`` (reference data) or a dimension."""

    def default_name(self) -> str:
        return f"references_{self.column}"

    def violations(self, relation: str) -> str:
        ref_relation, _, ref_column = self.references.rpartition(".")
        # NOT IN over the non-null keys means NOT EXISTS here (the checked value is not null), and
        # DuckDB runs it as one anti join: NOT EXISTS went through a correlated-subquery plan that
        # first collected the checked relation's distinct values (measured: bench/RESULTS.md).
        column, ref = ident(self.column), ident(ref_column)
        return (f"SELECT * FROM {relation} r WHERE r.{column} IS NOT NULL AND r.{column} NOT IN "  # noqa: S608 - identifiers via ident(), values via sql_literal()
                f"(SELECT x.{ref} FROM {ref_relation} x WHERE x.{ref} IS NOT NULL)")


class Freshness(_TableRule):
    kind: Literal["freshness"]
    column: str
    max_age_seconds: int = Field(gt=0)

    def default_name(self) -> str:
        return f"freshness_{self.column}"

    def violations(self, relation: str) -> str:
        # One row (the newest event) when even the newest is older than allowed.
        return (f"SELECT max({ident(self.column)}) AS newest, {{{{ now }}}} AS checked_at FROM {relation} "  # noqa: S608 - identifiers via ident(), values via sql_literal()
                f"HAVING {self.breached()}")

    def breached(self) -> str:
        return f"max({ident(self.column)}) < {{{{ now }}}} - to_seconds({self.max_age_seconds})"


class Volume(_Expectation):
    kind: Literal["volume"]
    date_column: str = "event_date"
    tolerance: float = Field(0.5, gt=0)
    """Allowed relative distance from the trailing 7-day median (0.5 = +-50%)."""
    history: str = ""
    """Relation of row counts per day (``<date_column>``, ``rows``); filled in by the runner. A
    day may come in several rows (batches); they are added up."""

    def default_name(self) -> str:
        return "volume_vs_7day_median"

    def violations(self, relation: str) -> str:
        # {{ history }} counts this table's rows (earlier batches and this one) from 7 days before the
        # checked dates on, so a day split across batches is counted whole. Counts, not rows: the
        # runner takes earlier batches' counts from the Delta log, so a check costs the same on day 1
        # of a stream and on day 7.
        d = ident(self.date_column)
        return f"""
            WITH counts AS (SELECT {d} AS day, sum(rows) AS rows FROM {{{{ history }}}} GROUP BY {d}),
            judged AS (
                SELECT t.day, t.rows,
                    (SELECT median(p.rows) FROM counts p WHERE p.day BETWEEN t.day - 7 AND t.day - 1) AS median_rows,
                    (SELECT count(*) FROM counts p WHERE p.day BETWEEN t.day - 7 AND t.day - 1) AS history_days
                FROM counts t
                WHERE t.day IN (SELECT {d} FROM {relation})
            )
            SELECT * FROM judged
            WHERE history_days = 7 AND abs(rows - median_rows) > {self.tolerance!r} * median_rows"""  # noqa: S608 - identifiers via ident(), values via sql_literal()


class NullRate(_TableRule):
    kind: Literal["null_rate"]
    column: str
    max_rate: float = Field(ge=0, le=1)

    def default_name(self) -> str:
        return f"null_rate_{self.column}"

    def violations(self, relation: str) -> str:
        return (f"SELECT {self._rate()} AS null_rate, count(*) AS rows FROM {relation} "  # noqa: S608 - identifiers via ident(), values via sql_literal()
                f"HAVING {self.breached()}")

    def breached(self) -> str:
        return f"{self._rate()} > {self.max_rate!r}"

    def _rate(self) -> str:
        """NULL for no rows (no rate to judge), never a division by zero (an error in ANSI SQL)."""
        return f"CAST(count(*) FILTER (WHERE {ident(self.column)} IS NULL) AS DOUBLE) / NULLIF(count(*), 0)"


class Schema(ColumnRule):
    kind: Literal["schema"]
    columns: dict[str, str]
    """Expected column -> engine type name (DuckDB spelling: VARCHAR, BIGINT, DECIMAL(18,2) ...)."""
    strict: bool = True
    """Also report columns that are not declared (schema drift)."""

    def default_name(self) -> str:
        return "schema"

    def on_columns(self, actual: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """As ``violations``, with no scan: on Spark that query's join of two short lists was a job
        of its own, and the slowest of a table's rules to plan."""
        found = {name: _plain_type(kind) for name, kind in actual}
        out = []
        for name, kind in self.columns.items():
            expected = _plain_type(kind)
            if name not in found:
                out.append(_drift(name, expected, None, "missing"))
            elif found[name] != expected:
                out.append(_drift(name, expected, found[name], "type_changed"))
        if self.strict:
            out += [_drift(name, None, kind, "unexpected") for name, kind in found.items() if name not in self.columns]
        return out

    def violations(self, relation: str) -> str:
        expected = " UNION ALL ".join(
            f"SELECT {sql_literal(name)} AS column_name, {sql_literal(_plain_type(kind))} AS expected_type"
            for name, kind in self.columns.items())
        return f"""
            WITH actual AS (
                SELECT column_name, replace(upper(column_type), ' ', '') AS actual_type
                FROM (DESCRIBE SELECT * FROM {relation})
            ),
            expected AS ({expected})
            SELECT COALESCE(e.column_name, a.column_name) AS column_name, e.expected_type, a.actual_type,
                CASE WHEN a.column_name IS NULL THEN 'missing'
                     WHEN e.column_name IS NULL THEN 'unexpected'
                     ELSE 'type_changed' END AS drift
            FROM expected e FULL OUTER JOIN actual a ON a.column_name = e.column_name
            WHERE a.column_name IS NULL OR a.actual_type <> e.expected_type
               {"OR e.column_name IS NULL" if self.strict else ""}"""  # noqa: S608 - identifiers via ident(), values via sql_literal()


def _plain_type(name: str) -> str:
    return name.upper().replace(" ", "")


def _drift(column: str, expected: str | None, actual: str | None, drift: str) -> dict[str, Any]:
    return {"column_name": column, "expected_type": expected, "actual_type": actual, "drift": drift}


class CustomSQL(_Expectation):
    kind: Literal["sql"]
    sql: str
    """A query over ``{{ relation }}`` returning the violating rows."""

    def default_name(self) -> str:
        return "custom_sql"

    def violations(self, relation: str) -> str:
        return self.sql.replace("{{ relation }}", relation)


Expectation = Annotated[
    Union[NotNull, Unique, AcceptedValues, Range, Regex, ReferentialIntegrity, Freshness, Volume, NullRate,
          Schema, CustomSQL],
    Field(discriminator="kind"),
]
