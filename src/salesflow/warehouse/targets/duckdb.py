"""DuckDB file warehouse (the embedded default)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from salesflow.warehouse.targets.base import WarehouseTarget


class DuckDBTarget(WarehouseTarget):
    DIALECT: ClassVar[str] = "duckdb"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.con = duckdb.connect(str(path))
        self.con.execute("SET TimeZone = 'UTC'")

    @property
    def description(self) -> str:
        return f"duckdb:{self.path}"

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.con.execute(sql, dict(params) if params else None)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        relation = self.con.sql(sql, params=dict(params) if params else None)
        fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        return fetch()

    def stage(self, name: str, data: pa.Table) -> None:
        self.con.register("_staging_arrow", data)
        try:
            self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * FROM _staging_arrow')  # noqa: S608 - name of the loader's staging table
        finally:
            self.con.unregister("_staging_arrow")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()
