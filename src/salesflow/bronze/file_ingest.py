"""Partner files -> ``bronze.events``: each file whole, once, by content.

A file is in one Bronze commit (with the other small files of its batch), so it is either all in
or not in at all. Its SHA-256 is part of ``source_file``: a file delivered again (same bytes, any
name) is skipped, found in the table itself, so the check survives a lost checkpoint directory.
A file that cannot be read as the source says (wrong header, wrong encoding) is refused with a
clear message and nothing of it is written; the other files of the run still load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.bronze.external import ExternalWrite, map_records, write_external
from salesflow.bronze.oversized import payload_limit
from salesflow.bronze.rows import BronzeBatch
from salesflow.config import Settings
from salesflow.config.sources import FileSourceSpec
from salesflow.engine.base import EngineAdapter
from salesflow.errors import ConfigError
from salesflow.lake.delta import Lake
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.sources.file_access import (
    FileNotSettled,
    FileRejected,
    drop_entries,
    incomplete_folder,
    read_confined,
)
from salesflow.sources.files import PartnerFile, content_sha256, parse_partner_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileOutcome:
    path: Path
    status: str
    """``ingested``, ``skipped`` (already in Bronze), ``waiting`` (not complete yet: a later run
    takes it) or ``rejected``."""
    rows: int = 0
    batch_id: int | None = None
    message: str = ""


@dataclass
class FileIngestor:
    """A Bronze source for the batch runner: new files, a batch of them per Bronze commit."""

    lake: Lake
    engine: EngineAdapter
    settings: Settings
    source_name: str
    paths: list[Path]
    outcomes: list[FileOutcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.source_name not in self.settings.files:
            known = ", ".join(sorted(self.settings.files)) or "none configured"
            raise ConfigError(f"no file source named {self.source_name!r} (files.{self.source_name} in the "
                              f"config; known: {known})")
        self.spec: FileSourceSpec = self.settings.files[self.source_name]
        self.source = f"file:{self.source_name}"
        self.app_id = f"salesflow.bronze.files.{self.source_name}"

    def batches(self) -> Iterator[BronzeBatch]:
        """Files are read and parsed one by one, then mapped and committed together: one Bronze
        batch per ``pipeline.max_batch_bytes`` (192 MiB by default) of files (at least one file). Each file is still
        in exactly one commit, whole, and once by content. (A commit per file cost about a second
        each: 10,000 small files took hours.)"""
        loaded = self._hashes_in_bronze()
        group: list[PartnerFile] = []
        size = 0
        for path in drop_entries(self.paths):
            read = self._read(path, loaded)
            if read is None:
                continue
            loaded.add(read[0].sha256)  # the same bytes twice in one run: the second is skipped
            group.append(read[0])
            size += read[1]
            if size >= self.settings.pipeline.batch_bytes():  # files are read here, on any engine
                yield from self._flush(group)
                group, size = [], 0
        if group:
            yield from self._flush(group)
        order = {path: i for i, path in enumerate(self.paths)}
        self.outcomes.sort(key=lambda o: order.get(o.path, len(order)))

    def _read(self, path: Path, loaded: set[str]) -> tuple[PartnerFile, int] | None:
        """The file's records and size, or None with its outcome (skipped, waiting, rejected)."""
        if path.name == self.spec.complete_marker:
            self.outcomes.append(FileOutcome(path, "skipped", message="completion marker"))
            return None
        if incomplete_folder(path, self.spec.complete_marker):
            self.outcomes.append(FileOutcome(path, "waiting",
                                             message=f"no {self.spec.complete_marker} in its folder yet"))
            return None
        try:
            data = read_confined(path, self.spec.follow_symlinks, self.spec.settle_seconds)
            sha = content_sha256(data)
            if sha in loaded:
                log.info("%s: already ingested (sha256 %s), skipped", path, sha[:12])
                self.outcomes.append(FileOutcome(path, "skipped",
                                                 message=f"same content already in Bronze (sha256 {sha[:12]})"))
                return None
            return parse_partner_file(path, data, self.spec), len(data)
        except FileRejected as exc:
            log.error("%s", exc)
            self.outcomes.append(FileOutcome(path, "rejected", message=str(exc)))
        except FileNotSettled as exc:
            log.info("%s", exc)
            self.outcomes.append(FileOutcome(path, "waiting", message=str(exc)))
        return None

    def _flush(self, group: list[PartnerFile]) -> Iterator[BronzeBatch]:
        clock = time.perf_counter()
        tables = [p.records.append_column("__file", pa.repeat(pa.scalar(i, pa.int32()), p.records.num_rows))
                  for i, p in enumerate(group)]
        try:
            records = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # columns typed differently (Parquet, JSON): one by one
            if len(group) == 1:
                raise
            for partner in group:
                yield from self._flush([partner])
            return
        mapped = map_records(self.engine, self.spec, self.source, self.settings.pipeline, records)
        files = mapped["file"].combine_chunks()
        gone: set[int] = set()
        write = write_external(
            self.lake, self.engine, self.settings.checkpoint_dir, app_id=self.app_id, source=self.source,
            source_file=pa.array([f"{p.path.name}#sha256={p.sha256}" for p in group]).take(files),
            position_prefix=pa.array([p.path.name for p in group]).take(files), mapped=mapped,
            position=({"file": str(group[0].path), "sha256": group[0].sha256} if len(group) == 1
                      else {"files": len(group)}),  # each row's source_file names its file
            limit=payload_limit(self.settings), still_new=lambda: self._still_new(group, files, gone))
        self._record_outcomes(group, files, mapped, write, gone)
        if write is not None:
            yield BronzeBatch(write.batch_id, tuple(p.path.name for p in group), write.rows, write.written, None,
                              time.perf_counter() - clock)

    def _still_new(self, group: list[PartnerFile], files: pa.Array, gone: set[int]) -> pa.Array | None:
        """Asked under the Bronze lock: the rows of files no concurrent run has loaded meanwhile
        (those files' numbers are put in ``gone``)."""
        present = self._hashes_in_bronze()
        gone.update(i for i, p in enumerate(group) if p.sha256 in present)
        return pc.invert(pc.is_in(files, pa.array(sorted(gone), pa.int32()))) if gone else None

    def _record_outcomes(self, group: list[PartnerFile], files: pa.Array, mapped: pa.Table,
                         write: ExternalWrite | None, gone: set[int]) -> None:
        index = files.to_numpy(zero_copy_only=False)
        rows = np.bincount(index, minlength=len(group))
        errors = np.bincount(index, weights=pc.is_valid(mapped["ingest_error"]).to_numpy(zero_copy_only=False),
                             minlength=len(group))
        for i, partner in enumerate(group):
            if i in gone or write is None:  # another process loaded the same content while this one read it
                self.outcomes.append(FileOutcome(partner.path, "skipped", message="loaded by a concurrent run"))
                continue
            # Rows the mapping already judged (a line that breaks the contract, a value that does not
            # compute, a row that could not be split): each is quarantined alone with its line.
            message = f"{int(errors[i])} row(s) held for quarantine at their line" if errors[i] else ""
            self.outcomes.append(FileOutcome(partner.path, "ingested", int(rows[i]), write.batch_id, message))

    def _hashes_in_bronze(self) -> set[str]:
        names = self.lake.distinct((BRONZE_EVENTS,), "source_file", ds.field("source") == self.source)
        return {name.rpartition("#sha256=")[2] for name in names}
