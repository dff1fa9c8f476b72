"""Table maintenance: compact small files, checkpoint the Delta log, vacuum behind a retention guard."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from salesflow.lake.columns import writer_properties
from salesflow.lake.delta import Lake
from salesflow.lake.tables import ALL_TABLES, TableSpec

log = logging.getLogger(__name__)
MIN_RETENTION_HOURS = 1.0


@dataclass(frozen=True)
class Maintained:
    table: str
    files_before: int
    files_after: int
    vacuumed: int


def maintain(lake: Lake, retention_hours: float, tables: tuple[TableSpec, ...] = ALL_TABLES) -> list[Maintained]:
    """Compact, checkpoint and vacuum every existing table. Data and row counts never change."""
    if retention_hours < MIN_RETENTION_HOURS:
        raise ValueError(f"vacuum retention must be at least {MIN_RETENTION_HOURS} h: readers may still use files")
    out = []
    for spec in tables:
        table = lake.table(spec)
        if table is None:
            continue
        with lake.storage():  # an outage is the lake's one clear (transient) error here too
            before = len(table.file_uris())
            if spec.zorder:  # compaction that also clusters rows, so file statistics prune filters
                table.optimize.z_order(list(spec.zorder), writer_properties=writer_properties(spec))
            else:
                table.optimize.compact(writer_properties=writer_properties(spec))
            table.create_checkpoint()
            # full: also files no version ever referenced (an attempt that wrote and failed to
            # commit, as a Spark job's tasks can leave), once older than the retention
            removed = table.vacuum(retention_hours=int(retention_hours), dry_run=False,
                                   enforce_retention_duration=False, full=True)
        after = len(lake.table(spec).file_uris())  # type: ignore[union-attr]
        out.append(Maintained(spec.qualified, before, after, len(removed)))
    log.info("maintenance: %s", ", ".join(f"{m.table} {m.files_before}->{m.files_after} files" for m in out))
    return out
