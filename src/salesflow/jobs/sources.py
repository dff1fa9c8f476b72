"""``salesflow ingest-files`` and ``salesflow poll``: partner data into Bronze, and on through
Silver and Gold unless asked to stop at Bronze."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from salesflow.bronze.api_ingest import ApiIngestor
from salesflow.bronze.file_ingest import FileIngestor, FileOutcome
from salesflow.bronze.release import QuarantineRelease
from salesflow.config import Settings
from salesflow.context import RunContext, as_context
from salesflow.engine.base import EngineAdapter
from salesflow.gold.restate import Restatement, restate_categories
from salesflow.jobs.batch import run_batch
from salesflow.lake.delta import Lake
from salesflow.ops import lineage
from salesflow.pipeline.runner import BatchRun, BronzeSource
from salesflow.silver.reference import ReferenceLoad
from salesflow.silver.reference_files import load_reference_files


@dataclass(frozen=True)
class FilesRun:
    outcomes: list[FileOutcome]
    pipeline: BatchRun | None
    """None with ``bronze_only``, and for reference files."""
    reference: ReferenceLoad | None = None
    """What reference files (``kind`` other than ``events``) published."""
    restated: Restatement | None = None

    @property
    def rejected(self) -> bool:
        return any(o.status == "rejected" for o in self.outcomes)


@dataclass(frozen=True)
class PollRun:
    source: str
    pages: int
    records: int
    retries: int
    pipeline: BatchRun | None


@lineage.traced("ingest_files", ("partner.files",), lineage.BRONZE)
def ingest_files(ctx: RunContext | Settings, paths: list[Path], source: str, bronze_only: bool = False) -> FilesRun:
    ctx = as_context(ctx)
    spec = ctx.settings.files.get(source)
    if spec is not None and spec.kind != "events":
        return _ingest_reference(ctx, paths, source)
    made: list[FileIngestor] = []

    def make(lake: Lake, engine: EngineAdapter) -> FileIngestor:
        made.append(FileIngestor(lake, engine, ctx.settings, source, paths))
        return made[-1]

    run = _drive(ctx, make, bronze_only)
    return FilesRun(made[0].outcomes if made else [], run)


def _ingest_reference(ctx: RunContext, paths: list[Path], source: str) -> FilesRun:
    """A catalogue (customers, stores) merged into its reference table, and the Gold days whose
    categories it changed rebuilt; the warehouse takes the new versions on its next load."""
    spec = ctx.settings.files[source]
    loaded = load_reference_files(ctx.lake, spec, source, paths)
    restated = None
    if loaded.load is not None and loaded.load.recategorised:
        with ctx.engine() as engine:
            restated = restate_categories(ctx.lake, engine, ctx.gate(engine, "gold"), loaded.load.recategorised)
    return FilesRun(loaded.outcomes, None, loaded.load, restated)


@lineage.traced("poll_api", ("partner.api",), lineage.BRONZE)
def poll_api(ctx: RunContext | Settings, name: str, bronze_only: bool = False) -> PollRun:
    ctx = as_context(ctx)
    made: list[ApiIngestor] = []

    def make(lake: Lake, engine: EngineAdapter) -> ApiIngestor:
        made.append(ApiIngestor(lake, engine, ctx.settings, name))
        return made[-1]

    run = _drive(ctx, make, bronze_only)
    poller = made[0]
    return PollRun(name, poller.pages, poller.records, poller.http.retries, run)


def _drive(ctx: RunContext, make: Callable[[Lake, EngineAdapter], BronzeSource], bronze_only: bool) -> BatchRun | None:
    """Land the source in Bronze only, or run it through Silver and Gold."""
    if not bronze_only:
        return run_batch(ctx, bronze=make)
    with ctx.engine() as engine:
        for _ in make(ctx.lake, engine).batches():
            pass
    return None


@dataclass(frozen=True)
class ReleaseRun:
    chosen: int
    """Quarantine rows matching the filters."""
    released: int
    already: int
    """Released before (each row is released once)."""
    not_releasable: int
    """Kept by reference without their full bytes."""
    batch_id: int | None
    samples: list[str]
    pipeline: BatchRun | None


@lineage.traced("quarantine_release", ("silver.quarantine",), lineage.BRONZE)
def release_quarantine(ctx: RunContext | Settings, reasons: tuple[str, ...] = (), batch_ids: tuple[int, ...] = (),
                       dry_run: bool = False, bronze_only: bool = False) -> ReleaseRun:
    """Re-submit quarantined records after a fix: through Silver and Gold again unless ``bronze_only``."""
    ctx = as_context(ctx)
    made: list[QuarantineRelease] = []

    def make(lake: Lake, engine: EngineAdapter) -> QuarantineRelease:
        made.append(QuarantineRelease(lake, engine, ctx.settings, reasons, batch_ids, dry_run))
        return made[-1]

    run = _drive(ctx, make, bronze_only or dry_run)
    done = made[0]
    return ReleaseRun(done.chosen, done.released, done.already, done.not_releasable, done.batch_id, done.samples,
                      run)
