"""Partner files -> ``bronze.events``: each file whole, once, by content.

A file is one Bronze commit, so it is either all in or not in at all. Its SHA-256 is part of
``source_file``: a file delivered again (same bytes, any name) is skipped, found in the table
itself, so the check survives a lost checkpoint directory. A file that cannot be read as the
source says (wrong header, wrong encoding) is refused with a clear message and nothing of it is
written; the other files of the run still load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.bronze.external import ExternalWrite, map_records, write_external
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
from salesflow.sources.files import content_sha256, parse_partner_file

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
    """A Bronze source for the batch runner: one batch per new file."""

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
        loaded = self._hashes_in_bronze()
        for path in drop_entries(self.paths):
            clock = time.perf_counter()
            outcome, batch = self._one(path, loaded)
            self.outcomes.append(outcome)
            if batch is not None:
                yield BronzeBatch(batch.batch_id, (path.name,), batch.rows, batch.written, None,
                                  time.perf_counter() - clock)

    def _one(self, path: Path, loaded: set[str]) -> tuple[FileOutcome, ExternalWrite | None]:
        if path.name == self.spec.complete_marker:
            return FileOutcome(path, "skipped", message="completion marker"), None
        if incomplete_folder(path, self.spec.complete_marker):
            return FileOutcome(path, "waiting", message=f"no {self.spec.complete_marker} in its folder yet"), None
        try:
            data = read_confined(path, self.spec.follow_symlinks, self.spec.settle_seconds)
            sha = content_sha256(data)
            if sha in loaded:
                log.info("%s: already ingested (sha256 %s), skipped", path, sha[:12])
                return FileOutcome(path, "skipped", message=f"same content already in Bronze (sha256 {sha[:12]})"), None
            partner = parse_partner_file(path, data, self.spec)
        except FileRejected as exc:
            log.error("%s", exc)
            return FileOutcome(path, "rejected", message=str(exc)), None
        except FileNotSettled as exc:
            log.info("%s", exc)
            return FileOutcome(path, "waiting", message=str(exc)), None
        mapped = map_records(self.engine, self.spec, self.source, self.settings.pipeline.reporting_currency,
                             partner.records)
        write = write_external(self.lake, self.engine, self.settings.checkpoint_dir, app_id=self.app_id,
                               source=self.source, source_file=f"{path.name}#sha256={partner.sha256}",
                               position_prefix=path.name, mapped=mapped,
                               position={"file": str(path), "sha256": partner.sha256},
                               already_in=lambda: partner.sha256 in self._hashes_in_bronze())
        loaded.add(partner.sha256)
        if write is None:  # another process loaded the same content while this one read it
            return FileOutcome(path, "skipped", message="loaded by a concurrent run"), None
        errors = int(pc.sum(pc.is_valid(mapped["ingest_error"])).as_py() or 0)
        return (FileOutcome(path, "ingested", write.rows, write.batch_id,
                            f"{errors} record(s) could not be split" if errors else ""),
                write)

    def _hashes_in_bronze(self) -> set[str]:
        names = self.lake.distinct((BRONZE_EVENTS,), "source_file", ds.field("source") == self.source)
        return {name.rpartition("#sha256=")[2] for name in names}
