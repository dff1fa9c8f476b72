"""Thin wrapper over delta-rs: reads as Arrow, idempotent writes with application transactions.

Every write names an application id and a monotonically increasing version (the batch id). A
write whose version is not above the table's recorded version for that app is skipped, so a
rerun after a crash can never apply the same batch twice.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import (
    CommitFailedError,
    DeltaError,
    DeltaProtocolError,
    SchemaMismatchError,
    TableNotFoundError,
)

from salesflow.errors import LakeSchemaError, LakeWriteError, ParameterError
from salesflow.lake.columns import added_columns, is_schema_error, writer_properties
from salesflow.lake.tables import TableSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Lake:
    root: str
    storage_options: Mapping[str, str] | None = None
    as_of: datetime | None = None
    """Read every table as it was at this instant (time travel); writes are refused."""
    explain: Callable[[BaseException], Exception | None] | None = field(default=None, compare=False, repr=False)
    """Turns an object-store failure into one clear error naming the setting (see lake.storage)."""
    _handles: dict[str, DeltaTable] = field(default_factory=dict, compare=False, repr=False)
    """Open tables, brought up to date incrementally: re-reading a whole log per call is slow."""
    _snapshots: dict[str, tuple[int, pa.Table]] = field(default_factory=dict, compare=False, repr=False)
    """Whole small tables by version (``snapshot``)."""
    _datasets: dict[str, tuple[int, ds.Dataset]] = field(default_factory=dict, compare=False, repr=False)
    """The Arrow dataset of each table's current version: delta-rs builds one fragment per file,
    which costs milliseconds a file, and one batch reads the same Silver version several times."""

    def uri(self, spec: TableSpec) -> str:
        return spec.uri(self.root)

    def sibling(self) -> Lake:
        """The same lake with its own open tables, for another thread: delta-rs table handles are
        brought up to date in place, so two threads must not share one."""
        return Lake(self.root, self.storage_options, self.as_of, self.explain)

    def table(self, spec: TableSpec, version: int | None = None) -> DeltaTable | None:
        if version is not None:
            return self._open_version(spec, version)
        if self.as_of is not None:
            return self._open_as_of(spec, self.as_of)
        handle = self._handles.get(spec.qualified)
        if handle is not None:
            if self._may_have_moved(spec, handle):
                with self._storage():
                    handle.update_incremental()
            return handle
        handle = self._open(spec, None)
        if handle is not None:
            self._handles[spec.qualified] = handle
        return handle

    def _may_have_moved(self, spec: TableSpec, handle: DeltaTable) -> bool:
        """Whether the table may have commits the handle has not seen. On a local disk the next
        version's commit file is looked for (microseconds; Delta's versions are contiguous and each
        has its JSON commit) instead of delta-rs listing the log (about 1.5 ms, asked some forty
        times a micro-batch); an object store is always asked."""
        if "://" in self.root:
            return True
        return os.path.exists(os.path.join(self.uri(spec), "_delta_log", f"{handle.version() + 1:020d}.json"))

    def storage(self) -> AbstractContextManager[None]:
        """``_storage`` for delta-rs calls made elsewhere (an engine's own commit)."""
        return self._storage()

    @contextmanager
    def _storage(self) -> Iterator[None]:
        """Object-store errors leave as salesflow errors: OSError from delta-rs and pyarrow, and
        DeltaError when delta-rs met the store while reading a checkpoint's Parquet (its kernel
        wraps the same S3 error in an Arrow error: seen once a table had a checkpoint)."""
        try:
            yield
        except (OSError, DeltaError) as exc:
            clear = self.explain(exc) if self.explain is not None else None
            if clear is None:
                raise
            raise clear from exc

    def _open(self, spec: TableSpec, version: int | None) -> DeltaTable | None:
        try:
            with self._storage():
                return DeltaTable(self.uri(spec), version=version, storage_options=self._options)
        except TableNotFoundError:
            return None

    def _open_version(self, spec: TableSpec, version: int) -> DeltaTable | None:
        """The table at ``version``; a version it never had is the caller's mistake, said in one line."""
        table = self._open(spec, None)
        if table is None:
            return None
        if not 0 <= version <= table.version():
            raise ParameterError(f"{spec.qualified} has versions 0 to {table.version()}, not {version}")
        with self._storage():
            table.load_as_version(version)
        return table

    def _open_as_of(self, spec: TableSpec, instant: datetime) -> DeltaTable | None:
        table = self._open(spec, None)
        if table is None:
            return None
        with self._storage():
            created_ms = table.history()[-1]["timestamp"]
            if instant.timestamp() * 1000 < created_ms:  # the table did not exist yet at that instant
                return None
            table.load_as_version(instant)
        return table

    def refuse_if_pinned(self, spec: TableSpec) -> None:
        """Before every write: a lake pinned to a past instant is read-only, and a local lake
        must take a byte. Found here, read-only or full storage is one OSError naming the path;
        found inside delta-rs, it came with Rust panics from the writer it tore down."""
        if self.as_of is not None:
            raise LakeSchemaError(f"{spec.qualified}: a lake read as of {self.as_of} is read-only")
        if "://" not in self.root:  # an object store answers for itself, without panics
            _probe_writable(Path(self.root))

    def exists(self, spec: TableSpec) -> bool:
        return self.table(spec) is not None

    def dataset(self, spec: TableSpec) -> ds.Dataset | None:
        table = self.table(spec)
        if table is None:
            return None
        if self.as_of is not None:
            with self._storage():
                return table.to_pyarrow_dataset()
        cached = self._datasets.get(spec.qualified)
        if cached is None or cached[0] != table.version():
            with self._storage():
                cached = (table.version(), table.to_pyarrow_dataset())
            self._datasets[spec.qualified] = cached
        return cached[1]

    def scan(self, spec: TableSpec, predicate: str | None = None, version: int | None = None) -> ds.Dataset | None:
        """The Arrow dataset of ``spec`` at ``version`` (default: the lake's), its files pruned by
        ``predicate`` (partition values and per-file statistics); rows are not filtered here."""
        if version is None and predicate is None:
            return self.dataset(spec)
        table = self.table(spec, version=version)
        if table is None:
            return None
        with self._storage():
            return (
                table.to_pyarrow_dataset(file_pruning_predicate=predicate) if predicate else table.to_pyarrow_dataset()
            )

    def load(self, dataset: ds.Dataset, columns: list[str] | None = None) -> pa.Table:
        """The rows of a dataset from ``scan``; storage errors leave as salesflow errors (an outage
        is transient)."""
        with self._storage():
            return dataset.to_table(columns=columns)

    def read(self, spec: TableSpec, columns: list[str] | None = None,
             filter: ds.Expression | None = None, prune: str | None = None) -> pa.Table | None:
        """Rows of ``spec`` (``filter`` applies per row). ``prune`` is a SQL predicate over the
        partition columns and per-file statistics that drops whole files before the dataset is
        built: delta-rs spends time per file on that, so on a table of thousands of files it is most
        of the cost of a narrow read. It must be implied by ``filter``, which is still applied."""
        if prune is None:
            dataset = self.dataset(spec)
        else:
            table = self.table(spec)
            with self._storage():
                dataset = None if table is None else table.to_pyarrow_dataset(file_pruning_predicate=prune)
        if dataset is None:
            return None
        with self._storage():
            return dataset.to_table(columns=columns, filter=filter)

    def snapshot(self, spec: TableSpec) -> pa.Table | None:
        """All rows of a small table that every batch reads (reference data), read again only when
        its version changes: each read built a dataset and opened its files."""
        table = self.table(spec)
        if table is None:
            return None
        if self.as_of is not None:
            return self.read(spec)
        cached = self._snapshots.get(spec.qualified)
        if cached is None or cached[0] != table.version():
            with self._storage():  # the handle just refreshed: the rows are of the version kept
                cached = (table.version(), table.to_pyarrow_dataset().to_table())
            self._snapshots[spec.qualified] = cached
        return cached[1]

    def distinct(self, specs: tuple[TableSpec, ...], column: str, filter: ds.Expression | None = None,
                 prune: str | None = None) -> list[Any]:
        """Sorted distinct non-null values of ``column`` over several tables (missing tables count as
        empty); ``prune`` as in ``read``."""
        found: set[Any] = set()
        for spec in specs:
            table = self.read(spec, columns=[column], filter=filter, prune=prune)
            if table is not None:
                found |= set(pc.unique(table[column]).to_pylist())
        return sorted(found - {None})

    def file_stats(self, spec: TableSpec, column: str) -> pa.Table | None:
        """Per data file, from the Delta log alone: ``min``/``max`` of ``column`` and the partition
        values (``partition.<name>``). None when the table is missing or a file lacks the stats."""
        table = self.table(spec)
        if table is None:
            return None
        with self._storage():
            actions = pa.table(table.get_add_actions(flatten=True))
        low, high = f"min.{column}", f"max.{column}"
        if actions.num_rows == 0:
            return actions
        if low not in actions.column_names or actions[low].null_count or actions[high].null_count:
            return None
        return actions

    def count_rows(self, spec: TableSpec, up_to_batch: int | None = None) -> int:
        """Rows of ``spec`` (with ``batch_id`` at most ``up_to_batch``), counted from the Delta log's
        per-file record counts and batch_id bounds: no data file is opened unless the log lacks
        those stats or a file spans ``up_to_batch`` (one compacted across it); then it scans."""
        files = self.file_stats(spec, "batch_id")
        if files is None or "num_records" not in files.column_names or files["num_records"].null_count:
            return self._scan_count(spec, up_to_batch)  # also a missing table: no dataset, 0 rows
        if files.num_rows == 0 or up_to_batch is None:
            return int(pc.sum(files["num_records"]).as_py() or 0)
        below = pc.less_equal(files["max.batch_id"], up_to_batch)
        above = pc.greater(files["min.batch_id"], up_to_batch)
        if not pc.all(pc.or_(below, above)).as_py():
            return self._scan_count(spec, up_to_batch)  # a compacted file spans up_to_batch
        return int(pc.sum(files.filter(below)["num_records"]).as_py() or 0)

    def _scan_count(self, spec: TableSpec, up_to_batch: int | None) -> int:
        dataset = self.dataset(spec)
        keep = None if up_to_batch is None else ds.field("batch_id") <= up_to_batch
        return 0 if dataset is None else dataset.count_rows(filter=keep)

    def version(self, spec: TableSpec) -> int | None:
        table = self.table(spec)
        return None if table is None else table.version()

    def txn_version(self, spec: TableSpec, app_id: str) -> int:
        """Highest batch the app committed to this table; -1 when none."""
        return self.marker(self.table(spec), app_id)

    def append(self, spec: TableSpec, data: pa.Table, *, app_id: str, version: int,
               metadata: Mapping[str, str] | None = None) -> bool:
        """Append once per (app, version). Returns False when the write was already committed."""
        return self._write(spec, data, app_id=app_id, version=version, mode="append",
                           predicate=None, metadata=metadata)

    def replace_where(self, spec: TableSpec, data: pa.Table, predicate: str, *, app_id: str,
                      version: int, metadata: Mapping[str, str] | None = None) -> bool:
        """Atomically replace the rows matching ``predicate`` (a partition set) with ``data``."""
        return self._write(spec, data, app_id=app_id, version=version, mode="overwrite",
                           predicate=predicate, metadata=metadata)

    def side_by_side(self, writes: Mapping[TableSpec, Callable[[], T]]) -> dict[TableSpec, T]:
        """Run one write per table at once. Each is its own commit, so a crash leaves any subset
        committed - as writing them in turn could - and every caller redoes only the tables whose
        marker lacks the batch. delta-rs encodes and writes outside the GIL, so this overlaps the
        tables' Parquet encoding. Returns when all are done; the first failure is then raised."""
        if len(writes) <= 1:
            return {spec: write() for spec, write in writes.items()}
        futures = {spec: _writers().submit(write) for spec, write in writes.items()}
        wait(futures.values())
        return {spec: future.result() for spec, future in futures.items()}

    def append_log(self, spec: TableSpec, data: pa.Table) -> None:
        """Plain append for log tables whose every write is a new fact (no batch identity)."""
        self.refuse_if_pinned(spec)
        try:
            with self._storage():  # through the open handle: a URI replays the whole log per write
                write_deltalake(self.table(spec) or self.uri(spec), data, mode="append",  # type: ignore[call-overload]
                                storage_options=self._options, writer_properties=writer_properties(spec))
        except CommitFailedError as exc:
            raise LakeWriteError(f"commit to {spec.qualified} failed: {exc}") from exc

    def replace_rows(self, spec: TableSpec, data: pa.Table, predicate: str) -> None:
        """Replace the rows matching ``predicate`` with ``data``; the predicate makes a rerun idempotent."""
        self.refuse_if_pinned(spec)
        try:
            with self._storage():
                if self.exists(spec):
                    write_deltalake(self.uri(spec), data, mode="overwrite", predicate=predicate,
                                    storage_options=self._options, writer_properties=writer_properties(spec))
                else:
                    write_deltalake(self.uri(spec), data, mode="append",
                                    partition_by=list(spec.partition_by) or None, storage_options=self._options,
                                    writer_properties=writer_properties(spec))
        except CommitFailedError as exc:
            raise LakeWriteError(f"commit to {spec.qualified} failed: {exc}") from exc

    def overwrite(self, spec: TableSpec, data: pa.Table, *, metadata: Mapping[str, str]) -> None:
        self.refuse_if_pinned(spec)
        with self._storage():
            write_deltalake(self.uri(spec), data, mode="overwrite", schema_mode="overwrite",
                            storage_options=self._options, writer_properties=writer_properties(spec),
                            commit_properties=CommitProperties(custom_metadata=dict(metadata)))

    def last_commit_metadata(self, spec: TableSpec) -> dict[str, Any]:
        table = self.table(spec)
        if table is None:
            return {}
        with self._storage():  # an outage here (the idle reference reload) must be retried, not fatal
            return dict(table.history(1)[0])

    def _write(self, spec: TableSpec, data: pa.Table, *, app_id: str, version: int, mode: str,
               predicate: str | None, metadata: Mapping[str, str] | None) -> bool:
        self.refuse_if_pinned(spec)
        handle = self.table(spec)  # refreshed once: the marker check and the write see one version
        if self.marker(handle, app_id) >= version:
            log.info("skip %s: %s already committed batch %d", spec.qualified, app_id, version)
            return False
        if handle is None and mode == "overwrite":  # a replace on a new table is its first append
            mode, predicate = "append", None
        props = CommitProperties(custom_metadata=dict(metadata or {}),
                                 app_transactions=[Transaction(app_id, version)])
        added = added_columns(handle, data)
        if added:
            log.info("%s gains column(s) %s", spec.qualified, ", ".join(added))
        try:
            with self._storage():
                # The open handle, not the URI: delta-rs would otherwise replay the log per write.
                write_deltalake(handle or self.uri(spec), data, mode=mode,  # type: ignore[call-overload, misc]
                                predicate=predicate, schema_mode="merge" if added else None,
                                partition_by=list(spec.partition_by) or None,
                                storage_options=self._options, commit_properties=props,
                                writer_properties=writer_properties(spec))
        except CommitFailedError as exc:  # a concurrent writer won the race: retrying can succeed
            raise LakeWriteError(f"commit to {spec.qualified} failed: {exc}") from exc
        except (SchemaMismatchError, DeltaProtocolError) as exc:  # retrying the same rows cannot help
            raise LakeSchemaError(f"{spec.qualified} rejected the batch: {exc}") from exc
        except Exception as exc:  # an unpartitioned write reports a cast failure as a bare Exception
            if is_schema_error(exc):
                raise LakeSchemaError(f"{spec.qualified} rejected the batch: {exc}") from exc
            if isinstance(exc, DeltaError):
                raise LakeWriteError(f"write to {spec.qualified} failed: {exc}") from exc
            raise
        return True

    def marker(self, table: DeltaTable | None, app_id: str) -> int:
        """The app's transaction version in ``table``: the last batch it committed; -1 when none.
        delta-rs reads the log for it (a CI run lost the endpoint right there), so an outage
        leaves as the transient error the stream retries, not a bare OSError."""
        with self._storage():
            found = None if table is None else table.transaction_version(app_id)
        return -1 if found is None else found

    @property
    def _options(self) -> dict[str, str] | None:
        return dict(self.storage_options) if self.storage_options else None


@cache
def _writers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="delta-write")


def _probe_writable(root: Path) -> None:
    probe = root / f".write-probe-{os.getpid()}-{threading.get_ident()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0")
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as exc:  # named for the lake, not for the probe
        raise OSError(exc.errno, exc.strerror, str(root)) from None


