"""The engine contract, in lake tables: read a table into a relation, run models on relations,
write a relation to a table as one commit.

- ``read_table``: a Delta table at a pinned version, narrowed by a SQL predicate, as relation NAME.
- ``compute``: a model's result kept as relation NAME for later models and writes.
- ``write_table(s)``: a relation to a table as one commit carrying the application transaction
  ``Txn(app_id, batch_id)`` and a ``WriteScope`` (append, or replace the rows of a predicate).
- Only small results come back to the caller as Arrow: ``rows``, ``query`` for counts, samples
  and add-action lists. Inputs that originate in this process (Kafka messages, reference files)
  enter through ``register``; an engine whose workers read files themselves (Spark) builds
  relations from files where they are read (``keep_lines``: landing segments).

Models refer only to logical relation names (``bronze_batch``, ``silver_order_lines`` ...), never
to paths, so the same model text runs on any adapter. The defaults below move data through this
process as Arrow, which is what an in-process engine wants (DuckDB); an engine whose data lives
elsewhere (Spark) overrides the table methods so rows stay on its executors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import sqlglot
from sqlglot import exp

from salesflow.common.lines import decode_lines, file_name, line_array
from salesflow.errors import ModelError, exception_chain
from salesflow.lake.delta import Lake
from salesflow.lake.tables import TableSpec
from salesflow.models import Model

PartTask = Callable[[int, Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]
"""A part's number and its rows' batches in, a few result rows out (``map_relation``)."""


@dataclass(frozen=True)
class WriteScope:
    """What one write replaces: nothing (an append), or every row matching ``predicate`` (a set of
    partitions, or finer: a time range within them)."""

    predicate: str | None = None

    @classmethod
    def append(cls) -> WriteScope:
        return cls(None)

    @classmethod
    def replace(cls, predicate: str) -> WriteScope:
        return cls(predicate)


@dataclass(frozen=True)
class Txn:
    """The Delta application transaction a write carries: a rerun of the same (app, batch) is a no-op."""

    app_id: str
    batch_id: int


def predicate_columns(predicate: str | None) -> set[str]:
    """The columns a SQL predicate reads (so a projected read keeps them for the filter)."""
    if predicate is None:
        return set()
    return {column.name for column in sqlglot.parse_one(predicate, read="duckdb").find_all(exp.Column)}


class EngineAdapter(ABC):
    DIALECT: ClassVar[str]
    """SQLGlot dialect name of the engine's SQL."""
    SUPPORTS_ARROW_SCAN: ClassVar[bool] = False
    """Can scan Arrow datasets in place (no copy)."""
    KEEPS_RESULTS_IN_PROCESS: ClassVar[bool] = False
    """Relations live in this process's memory, so a projection of one costs no transfer: state a
    stream keeps between micro-batches (dedupe keys) may then be held here rather than re-read."""
    DATA_ERRORS: ClassVar[tuple[str, ...]] = ()
    """Names of the engine's errors that a value causes (a cast, a range, a format), as opposed to
    a broken model or the machine (out of memory, I/O): matched against exception classes and
    messages, since a remote engine's arrive as text."""

    @classmethod
    def is_data_error(cls, exc: BaseException) -> bool:
        """Whether ``exc`` (or what it was raised from) is one of ``DATA_ERRORS``: a batch that
        fails on one is quarantined, not retried for ever."""
        return any(type(found).__name__ in cls.DATA_ERRORS or any(name in str(found) for name in cls.DATA_ERRORS)
                   for found in exception_chain(exc, context=False))

    @abstractmethod
    def register(self, name: str, data: pa.Table | ds.Dataset) -> None:
        """Expose Arrow data as a relation called ``name``."""

    @abstractmethod
    def query(self, sql: str, source: str = "query") -> pa.Table:
        """Run SQL (DuckDB dialect) and return the result as an Arrow table; ``source`` names the
        model or check the SQL came from, for error messages."""

    @abstractmethod
    def materialize(self, name: str, sql: str, source: str = "query", key: str | None = None) -> None:
        """Run SQL once and keep the result as relation ``name`` for later models. ``key``: the
        column later models join it on; an engine that spreads rows over workers keeps the rows
        of one key together, so a join of two relations kept by the same key moves no rows."""

    @abstractmethod
    def close(self) -> None: ...

    # -- relations ---------------------------------------------------------------------------
    def compute(self, name: str, model: Model, **params: object) -> None:
        """Run ``model`` and keep its result as relation ``name`` (for later models and writes)."""
        self.register(name, self.run(model, **params))

    def compute_sql(self, name: str, sql: str, source: str = "query") -> None:
        """Keep the result of SQL over relations as relation ``name``."""
        try:
            self.register(name, self.query(sql, source))
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{source} failed on {self.DIALECT}: {exc}") from exc

    def alias(self, name: str, relation: str) -> None:
        """Make relation ``relation`` readable under ``name`` as well."""
        self.define(name, f'SELECT * FROM "{relation}"')  # noqa: S608 - our own relation name

    def rows(self, relation: str) -> int:
        return int(self.query(f'SELECT count(*) AS n FROM "{relation}"')["n"][0].as_py())  # noqa: S608 - our own relation name

    def schema(self, relation: str) -> pa.Schema:
        return self.query(f'SELECT * FROM "{relation}" LIMIT 0').schema  # noqa: S608 - our own relation name

    def describe(self, relation: str) -> list[tuple[str, str]]:
        """Columns of ``relation`` (a name or a parenthesised query) with DuckDB's type names."""
        found = self.query(f"DESCRIBE SELECT * FROM {relation}")  # noqa: S608 - our own relation
        return list(zip(found["column_name"].to_pylist(), found["column_type"].to_pylist(), strict=True))

    def projection(self, relation: str, columns: list[str]) -> pa.Table:
        """Some columns of a relation in this process; only for engines that ``KEEPS_RESULTS_IN_PROCESS``
        (elsewhere it would move the relation here)."""
        quoted = ", ".join(f'"{c}"' for c in columns)
        return self.query(f'SELECT {quoted} FROM "{relation}"')  # noqa: S608 - our own names

    # -- table I/O ---------------------------------------------------------------------------
    def read_table(self, lake: Lake, spec: TableSpec, name: str, *, predicate: str | None = None,
                   columns: list[str] | None = None, version: int | None = None,
                   empty: pa.Schema | None = None, small: bool = False) -> bool:
        """Relation ``name``: the rows of ``spec`` at ``version`` (default: the lake's own) that match
        ``predicate`` (SQL over its columns; partition and file statistics prune files first).
        A missing table is registered as ``empty`` when given; returns whether the table exists.
        ``small``: a whole small table every batch reads (reference data), kept by the lake
        between its versions."""
        if small and predicate is None and version is None:
            whole = lake.snapshot(spec)
            table = whole if whole is not None else empty.empty_table() if empty is not None else None
            if table is not None:
                self.register(name, table.select(columns) if columns else table)
            return whole is not None
        dataset = lake.scan(spec, predicate, version)
        if dataset is None:
            if empty is not None:
                self.register(name, empty.empty_table())
            return False
        # The rows come through the lake (its storage errors are transient and retried), then the
        # engine filters them: an engine scanning the files itself would turn an outage into a
        # model error. The files were pruned by the predicate already.
        wanted_columns = None if columns is None else sorted({*columns, *predicate_columns(predicate)})
        absent = [] if wanted_columns is None or empty is None else \
            [c for c in wanted_columns if c not in dataset.schema.names and c in empty.names]
        rows = lake.load(dataset, None if wanted_columns is None else [c for c in wanted_columns if c not in absent])
        for column in absent:  # a column a newer version added (gold.daily_sales.returns): null in older rows
            added = empty.field(column)  # type: ignore[union-attr]  # absent is empty without a schema
            rows = rows.append_column(added, pa.nulls(rows.num_rows, added.type))
        if predicate is None:
            self.register(name, rows.select(columns) if columns else rows)
            return True
        scan = f"_scan_{name}"
        self.register(scan, rows)
        wanted = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        self.compute_sql(name, f'SELECT {wanted} FROM "{scan}" WHERE {predicate}', f"read {spec.qualified}")  # noqa: S608 - our own predicates
        return True

    def write_table(self, lake: Lake, spec: TableSpec, relation: str, scope: WriteScope, txn: Txn | None,
                    metadata: Mapping[str, str] | None = None) -> bool:
        """Write ``relation`` to ``spec`` as one commit; False when ``txn`` was already committed.
        Without ``txn`` the write is a plain replace of ``scope`` (idempotent by its predicate)."""
        data = self._result(relation)
        if txn is None:
            if scope.predicate is None:
                lake.append_log(spec, data)
            else:
                lake.replace_rows(spec, data, scope.predicate)
            return True
        if scope.predicate is None:
            return lake.append(spec, data, app_id=txn.app_id, version=txn.batch_id, metadata=metadata)
        return lake.replace_where(spec, data, scope.predicate, app_id=txn.app_id, version=txn.batch_id,
                                  metadata=metadata)

    def write_tables(self, lake: Lake, writes: Mapping[TableSpec, tuple[str, WriteScope]], txn: Txn | None,
                     metadata: Mapping[str, str] | None = None) -> int:
        """One commit per table, side by side (``Lake.side_by_side``); how many were written."""
        done = lake.side_by_side({spec: partial(self.write_table, lake, spec, relation, scope, txn, metadata)
                                  for spec, (relation, scope) in writes.items()})
        return sum(done.values())

    def _result(self, relation: str) -> pa.Table:
        """The rows of a relation, for a write through this process."""
        return self.query(f'SELECT * FROM "{relation}"')  # noqa: S608 - our own relation name

    def keep_lines(self, paths: Sequence[str], keep_as: str) -> pa.Table:
        """Relation ``keep_as``: a row per line of the files at ``paths`` (URIs), split as the
        landing log splits them (``salesflow.common.lines``), read where the engine reads files.
        Columns ``LINES``: ``file`` (its name), ``line`` (from 1), ``text`` (NULL where the line
        is not valid UTF-8), ``raw`` (the bytes of such a line, NULL for any other) and
        ``bytes``. Returns per file with lines its ``lines``, ``longest`` (bytes) and whether
        all are ``valid`` UTF-8: the few lines to look at again are known without another pass.
        Here: read in this process, one file at a time."""
        parts = [_lines_of(uri, content) for uri, content in _file_contents(paths)]
        self.register(keep_as, pa.concat_tables(parts) if parts else LINES.empty_table())
        return self.query(f"SELECT file, count(*) AS lines, max(bytes) AS longest, "  # noqa: S608 - our own name
                          f'bool_and(text IS NOT NULL) AS valid FROM "{keep_as}" GROUP BY file', "lines of files")

    def map_relation(self, relation: str, task: PartTask, schema: pa.Schema) -> pa.Table:
        """``task`` over the rows of ``relation`` where they are, one call per part (a Spark
        partition, on its executor); their results (``schema``, a few rows per part) come back.
        Here: one part, in this process."""
        return pa.Table.from_batches(list(task(0, iter(self._result(relation).to_batches()))), schema=schema)

    def keep_mapped(self, relation: str, task: PartTask, schema: pa.Schema, keep_as: str) -> None:
        """``map_relation``'s results kept where they are made, as relation ``keep_as``."""
        self.register(keep_as, self.map_relation(relation, task, schema))

    def for_thread(self) -> EngineAdapter | None:
        """An engine another thread can run models on while this one runs its own, or None when
        the adapter cannot offer one (work then stays on the calling thread)."""
        return None

    def run(self, model: Model, **params: object) -> pa.Table:
        sql = model.render(**params)
        try:
            return self.query(sql, model.name)
        except ModelError:
            raise
        except Exception as exc:  # engine errors are many types; keep the model name on them
            raise ModelError(f"model {model.name} failed on {self.DIALECT}: {exc}") from exc

    def define(self, name: str, sql: str, source: str = "query") -> None:
        """Keep SQL as relation ``name`` that later models may read in part: an engine that can
        plan through a view (and push their projections and filters into it) makes one; this
        default materializes it."""
        self.materialize(name, sql, source)

    def run_into(self, name: str, model: Model, view: bool = False, key: str | None = None,
                 **params: object) -> None:
        """``model`` as relation ``name``: a view (``define``) or kept (``materialize``, by ``key``)."""
        sql = model.render(**params)
        try:
            if view:
                self.define(name, sql, model.name)
            else:
                self.materialize(name, sql, model.name, key)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"model {model.name} failed on {self.DIALECT}: {exc}") from exc

    def __enter__(self) -> EngineAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


LINES = pa.schema([("file", pa.string()), ("line", pa.int64()), ("text", pa.string()), ("raw", pa.binary()),
                   ("bytes", pa.int64())])
"""A relation of lines (``EngineAdapter.keep_lines``)."""


def _file_contents(paths: Sequence[str]) -> Iterator[tuple[str, bytes]]:
    for uri in paths:
        filesystem, path = pafs.FileSystem.from_uri(uri)
        with filesystem.open_input_stream(path) as stream:
            yield uri, stream.read()


def _lines_of(uri: str, content: bytes) -> pa.Table:
    lines = line_array(content)
    text, valid = decode_lines(lines)
    return pa.table({
        "file": pa.repeat(file_name(uri), len(lines)).cast(pa.string()),
        "line": pa.array(np.arange(1, len(lines) + 1), pa.int64()),
        "text": pc.if_else(valid, text, pa.scalar(None, pa.string())),
        "raw": pc.if_else(valid, pa.scalar(None, pa.binary()), lines),
        "bytes": pc.binary_length(lines).cast(pa.int64()),
    }, schema=LINES)
