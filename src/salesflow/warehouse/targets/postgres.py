"""PostgreSQL warehouse: bulk loads with COPY into temp tables, upserts with ON CONFLICT."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv

from salesflow.common.extras import require
from salesflow.errors import ConfigError, TransientError
from salesflow.redact import REDACTOR, redact
from salesflow.warehouse.targets.base import WarehouseTarget

_PG_TYPES = {
    pa.string(): "TEXT", pa.large_string(): "TEXT", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE PRECISION", pa.bool_(): "BOOLEAN", pa.date32(): "DATE",
}


def _check_url(url: str) -> None:
    """A ``postgresql://`` URL or a libpq ``key=value`` DSN; any other scheme is refused by name only."""
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() not in ("postgresql", "postgres"):
        raise ConfigError(f"warehouse.url: scheme {scheme!r} is not supported; give a postgresql:// URL or a "
                          f"libpq DSN (host=... dbname=...)")


class PostgresTarget(WarehouseTarget):
    DIALECT: ClassVar[str] = "postgres"
    SUPPORTS_FOREIGN_KEYS: ClassVar[bool] = True

    def __init__(self, url: str) -> None:
        psycopg = require("psycopg", "a PostgreSQL warehouse.url")
        self.url = url
        REDACTOR.add(url)  # also when the target is built without load_settings (tests, the API)
        _check_url(url)
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise TransientError(
                redact(f"cannot reach the PostgreSQL warehouse at {url}: {str(exc).strip()}")
            ) from None
        except psycopg.Error as exc:  # a malformed URL or DSN: libpq quotes it back, so it is redacted
            raise ConfigError(redact(f"warehouse.url is not a usable PostgreSQL URL: {str(exc).strip()}")) from None
        self.conn.execute("SET TIME ZONE 'UTC'")

    @property
    def description(self) -> str:
        return f"postgres:{redact(self.url)}"

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.conn.execute(sql, params)  # type: ignore[arg-type]

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, params)  # type: ignore[arg-type]
            names = [d.name for d in cursor.description or []]
            rows = cursor.fetchall()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}) if names else pa.table({})

    def stage(self, name: str, data: pa.Table) -> None:
        self.conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        self.conn.execute(f'CREATE TEMP TABLE "{name}" ({_columns(data.schema)})')
        if data.num_rows:
            _copy(self.conn, name, data)

    @contextmanager
    def shared_stage(self, schema: pa.Schema) -> Iterator[str]:
        """An UNLOGGED table that workers (Spark's executors) COPY rows into over their own
        connections, each part in its own transaction; dropped on the way out."""
        table = f"salesflow_stage_{secrets.token_hex(6)}"
        self.conn.execute(f'CREATE UNLOGGED TABLE "{table}" ({_columns(schema)}, "{PART}" INTEGER NOT NULL)')
        try:
            yield table
        finally:
            self.conn.execute(f'DROP TABLE IF EXISTS "{table}"')

    def adopt(self, shared: str, name: str, columns: list[str]) -> int:
        """Temp table ``name`` (what the load's SQL reads) from a shared stage; its row count."""
        names = ", ".join(f'"{c}"' for c in columns)
        self.conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        self.conn.execute(f'CREATE TEMP TABLE "{name}" AS SELECT {names} FROM "{shared}"')  # noqa: S608 - our own names
        return int(self.query(f'SELECT count(*) FROM "{name}"')["count"][0].as_py())  # noqa: S608 - our own name

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def close(self) -> None:
        self.conn.close()


PART = "salesflow_part"
"""The column of a shared stage that says which worker part wrote a row."""
COPIED = pa.schema([("part", pa.int32()), ("rows", pa.int64())])
"""What ``copy_part`` returns: one row per part."""


def copy_part(url: str, table: str, part: int, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """On a worker: COPY one part's rows into shared stage ``table`` in one transaction that first
    deletes what an earlier attempt of the same part wrote, so a retried task replaces its rows."""
    psycopg = require("psycopg", "a PostgreSQL warehouse.url")
    rows = 0
    with psycopg.connect(url) as conn:  # commits on leaving without an error
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(f'DELETE FROM "{table}" WHERE "{PART}" = %s', (part,))  # noqa: S608 - our own names
        for batch in batches:
            if batch.num_rows == 0:
                continue
            data = pa.Table.from_batches([batch]).append_column(PART, pa.repeat(part, batch.num_rows).cast(pa.int32()))
            _copy(conn, table, data)
            rows += batch.num_rows
    yield pa.RecordBatch.from_pydict({"part": [part], "rows": [rows]}, schema=COPIED)


def _columns(schema: pa.Schema) -> str:
    """The column definitions of a table that holds ``schema``'s rows."""
    return ", ".join(f'"{f.name}" {_pg_type(f.type)}' for f in schema)


def _copy(conn: Any, table: str, data: pa.Table) -> None:
    """COPY ``data`` into ``table`` on ``conn`` as CSV."""
    buffer = io.BytesIO()
    # Quote every value so an empty string stays distinct from NULL (unquoted empty field).
    pacsv.write_csv(data, buffer, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    names = ", ".join(f'"{n}"' for n in data.column_names)
    with conn.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN (FORMAT csv)') as copy:
        copy.write(buffer.getvalue())


def _pg_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):
        return f"NUMERIC({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    return _PG_TYPES.get(arrow_type, "TEXT")
