"""DuckDB adapter: in-process, scans Arrow in place, the default engine."""

from __future__ import annotations

from typing import ClassVar

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from salesflow.engine.base import EngineAdapter

SCAN_CHUNK_ROWS = 2048
"""Rows per Arrow record batch handed to DuckDB: its vector size. DuckDB splits an Arrow scan
among its threads by record batch, so a micro-batch that arrives as one chunk (a Kafka poll, one
landing segment) would be modelled on one core (bench/RESULTS.md)."""


class DuckDBEngine(EngineAdapter):
    DIALECT: ClassVar[str] = "duckdb"
    SUPPORTS_ARROW_SCAN: ClassVar[bool] = True
    KEEPS_RESULTS_IN_PROCESS: ClassVar[bool] = True
    DATA_ERRORS: ClassVar[tuple[str, ...]] = (
        "ConversionException", "OutOfRangeException", "InvalidInputException",
        "Conversion Error", "Out of Range Error", "Invalid Input Error")

    def __init__(self, threads: int | None = None, memory_limit: str | None = None,
                 con: duckdb.DuckDBPyConnection | None = None) -> None:
        if con is None:
            con = duckdb.connect(":memory:")
            # No caller reads a result's row order unless its SQL asks for one (ORDER BY); keeping
            # the order of the input makes DuckDB hold parallel results back to emit them in turn.
            con.execute("SET preserve_insertion_order = false")
        self.con = con
        self.con.execute("SET TimeZone = 'UTC'")  # event_date is the UTC calendar day everywhere
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute("SET memory_limit = ?", [memory_limit])
        self._registered: dict[str, pa.Table | ds.Dataset | duckdb.DuckDBPyRelation] = {}
        self._results: dict[str, pa.Table] = {}
        """Relations kept as Arrow, as they came: a write or a count takes them without a query."""

    def register(self, name: str, data: pa.Table | ds.Dataset | duckdb.DuckDBPyRelation) -> None:
        self._results.pop(name, None)
        if isinstance(data, pa.Table):
            self._results[name] = data
            data = _in_vectors(data)
        self._registered[name] = data  # DuckDB keeps a reference only; hold the object alive
        self.con.register(name, data)

    def alias(self, name: str, relation: str) -> None:
        if relation in self._results:
            self.register(name, self._results[relation])
        else:
            super().alias(name, relation)

    def rows(self, relation: str) -> int:
        kept = self._results.get(relation)
        return kept.num_rows if kept is not None else super().rows(relation)

    def schema(self, relation: str) -> pa.Schema:
        kept = self._results.get(relation)
        return kept.schema if kept is not None else super().schema(relation)

    def projection(self, relation: str, columns: list[str]) -> pa.Table:
        kept = self._results.get(relation)
        return kept.select(columns) if kept is not None else super().projection(relation, columns)

    def _result(self, relation: str) -> pa.Table:
        # As the model returned it (not cut into vectors): delta-rs splits each record batch by
        # partition, so it writes a few large batches faster than many small ones.
        kept = self._results.get(relation)
        return kept if kept is not None else super()._result(relation)

    def query(self, sql: str, source: str = "query") -> pa.Table:
        relation = self.con.sql(sql)
        if relation is None:  # a statement without a result
            return pa.table({})
        # DuckDB >= 1.4 names it to_arrow_table; older releases only have fetch_arrow_table.
        fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        return fetch()

    def materialize(self, name: str, sql: str, source: str = "query", key: str | None = None) -> None:  # noqa: ARG002 - one process: no rows to place
        # Kept as DuckDB's own vectors in client memory, not as a temp table (which copies every
        # string into DuckDB's storage and keeps statistics on each column as it appends) nor as
        # Arrow (which each reader converts back, string by string; bench/RESULTS.md).
        self.register(name, self.con.sql(sql).materialize())

    def define(self, name: str, sql: str, source: str = "query") -> None:
        self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {sql}')

    def close(self) -> None:
        self.con.close()

    def for_thread(self) -> DuckDBEngine:
        """A second connection to the same database: DuckDB runs the two side by side (one
        connection must not be used by two threads at once). Registered names stay per connection."""
        return DuckDBEngine(con=self.con.cursor())


def _in_vectors(table: pa.Table) -> pa.Table:
    """``table`` in record batches of at most SCAN_CHUNK_ROWS rows (zero-copy slices)."""
    if table.num_columns == 0 or all(len(chunk) <= SCAN_CHUNK_ROWS for chunk in table.column(0).chunks):
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_CHUNK_ROWS), table.schema)
