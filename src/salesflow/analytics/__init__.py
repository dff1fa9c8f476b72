"""The analytics SQL suite: one file per business question, run on any warehouse target.

Each file is DuckDB-dialect SQL over the star schema. Its header declares parameters as
``-- param NAME TYPE = DEFAULT``; values are converted to that type and *bound* by the driver,
never pasted into the SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache

import pyarrow as pa

from salesflow.errors import ParameterError
from salesflow.models import sql_resources
from salesflow.warehouse.targets.base import WarehouseTarget

_PARAM = re.compile(r"^--\s*param\s+(\w+)\s+(DATE|INTEGER|TEXT|DOUBLE)\s*=\s*(.*?)\s*$", re.MULTILINE)
_CASTS: dict[str, Callable[[str], object]] = {"DATE": date.fromisoformat, "INTEGER": int, "DOUBLE": float, "TEXT": str}
_KINDS = {"DATE": "a date (YYYY-MM-DD)", "INTEGER": "a whole number", "DOUBLE": "a number", "TEXT": "text"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: object

    def convert(self, raw: str) -> object:
        try:
            return _CASTS[self.type](raw)
        except ValueError:
            raise ParameterError(f"--param {self.name}={raw!r}: expected {_KINDS[self.type]}") from None


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    params: tuple[Param, ...]
    sql: str

    def bind(self, raw: dict[str, str]) -> dict[str, object]:
        known = {p.name: p for p in self.params}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ParameterError(f"query {self.name} has no parameter {', '.join(unknown)} (allowed: {allowed})")
        return {name: p.convert(raw[name]) if name in raw else p.default for name, p in known.items()}


def _parse(name: str, text: str) -> Query:
    first = text.splitlines()[0].removeprefix("--").strip()
    params = tuple(
        Param(pname, ptype, None if default == "NULL" else _CASTS[ptype](default))
        for pname, ptype, default in _PARAM.findall(text)
    )
    return Query(name, first, params, text)


@cache
def list_queries() -> tuple[Query, ...]:
    return tuple(_parse(name, text) for name, text in sql_resources(__package__, "queries"))


def load_query(name: str) -> Query:
    for query in list_queries():
        if query.name == name:
            return query
    names = ", ".join(q.name for q in list_queries())
    raise ParameterError(f"no analytics query named {name!r}; available: {names}")


def run_query(target: WarehouseTarget, name: str, raw_params: dict[str, str] | None = None) -> pa.Table:
    query = load_query(name)
    return target.select(query.sql, query.bind(raw_params or {}))
