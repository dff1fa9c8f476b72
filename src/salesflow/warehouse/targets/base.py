"""The target contract. SQL is written once in the DuckDB dialect and transpiled per target."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

import pyarrow as pa
import sqlglot
from sqlglot import exp

from salesflow.errors import ModelError


class WarehouseTarget(ABC):
    DIALECT: ClassVar[str]
    SUPPORTS_FOREIGN_KEYS: ClassVar[bool] = False

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run one statement already in this target's dialect."""

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a query already in this target's dialect, return Arrow."""

    @abstractmethod
    def stage(self, name: str, data: pa.Table) -> None:
        """Load Arrow rows into a temporary table ``name`` (bulk path: COPY for PostgreSQL)."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]: ...

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def description(self) -> str:
        """Where this target is, safe to print (no password)."""

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run DuckDB-dialect SQL (one or more statements) on this target."""
        for statement, names in translate(sql, self.DIALECT):
            self.execute(statement, _only(params, names))

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        [(statement, names)] = translate(sql, self.DIALECT)
        return self.query(statement, _only(params, names))

    def __enter__(self) -> WarehouseTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@lru_cache(maxsize=512)
def translate(sql: str, dialect: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """DuckDB dialect -> target dialect, per statement with the parameter names it uses.

    ``$name`` placeholders become the driver's own (``%(name)s`` for psycopg), so values are
    always bound by the driver.
    """
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ModelError(f"cannot parse warehouse SQL: {exc}") from exc
    return tuple(_render(s, dialect) for s in statements if s is not None)


def _render(statement: exp.Expr, dialect: str) -> tuple[str, frozenset[str]]:
    names = frozenset(p.name for p in statement.find_all(exp.Placeholder))
    if dialect != "postgres" or not names:
        return statement.sql(dialect=dialect), names
    # psycopg reads every % of a statement it binds values into as a placeholder's start: a modulo
    # or a LIKE pattern must be written %%. Render with markers for the placeholders, double the
    # rest, then put the placeholders in.
    marked = statement.transform(
        lambda node: exp.column(f"sfparam_{node.name}_sfparam") if isinstance(node, exp.Placeholder) else node)
    text = marked.sql(dialect=dialect).replace("%", "%%")
    return re.sub(r"\bsfparam_(\w+?)_sfparam\b", r"%(\1)s", text), names


def _only(params: Mapping[str, Any] | None, names: frozenset[str]) -> dict[str, Any] | None:
    missing = names - set(params or {})
    if missing:
        raise ModelError(f"warehouse SQL needs parameters {sorted(missing)}")
    return {k: v for k, v in (params or {}).items() if k in names} or None
