"""DuckDB adapter: in-process, scans Arrow in place, the default engine."""

from __future__ import annotations

from typing import ClassVar

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from salesflow.engine.base import EngineAdapter


class DuckDBEngine(EngineAdapter):
    DIALECT: ClassVar[str] = "duckdb"
    SUPPORTS_ARROW_SCAN: ClassVar[bool] = True

    def __init__(self, threads: int | None = None, memory_limit: str | None = None,
                 con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.con = con or duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")  # event_date is the UTC calendar day everywhere
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute("SET memory_limit = ?", [memory_limit])
        self._registered: dict[str, pa.Table | ds.Dataset] = {}

    def register(self, name: str, data: pa.Table | ds.Dataset) -> None:
        self._registered[name] = data  # DuckDB keeps a reference only; hold the object alive
        self.con.register(name, data)

    def query(self, sql: str, source: str = "query") -> pa.Table:
        relation = self.con.sql(sql)
        if relation is None:  # a statement without a result
            return pa.table({})
        # DuckDB >= 1.4 names it to_arrow_table; older releases only have fetch_arrow_table.
        fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        return fetch()

    def materialize(self, name: str, sql: str, source: str = "query") -> None:
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')

    def close(self) -> None:
        self.con.close()

    def for_thread(self) -> DuckDBEngine:
        """A second connection to the same database: DuckDB runs the two side by side (one
        connection must not be used by two threads at once). Registered names stay per connection."""
        return DuckDBEngine(con=self.con.cursor())
