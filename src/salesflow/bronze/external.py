"""Mapped partner records (files, API pages) -> ``bronze.events``, one Delta commit per unit of work.

The source's position (the file's content hash, the API cursor) rides in the same commit as the
rows, as commit metadata next to the application transaction ``(app_id, batch_id)``: either both
are in the table or neither is. So the table itself says what was ingested, and no separate
checkpoint can disagree with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from salesflow.bronze.lock import bronze_lock
from salesflow.bronze.oversized import PayloadLimit
from salesflow.bronze.rows import bronze_input, next_bronze_batch, write_bronze
from salesflow.config.pipeline import PipelineConfig
from salesflow.config.sources import MappingSpec
from salesflow.contract.bounds import line_rule_params
from salesflow.engine.base import EngineAdapter
from salesflow.engine.duckdb import DuckDBEngine
from salesflow.lake.delta import Lake
from salesflow.lake.log import commits
from salesflow.lake.tables import BRONZE_EVENTS
from salesflow.sources.mapping import mapping_model

log = logging.getLogger(__name__)
POSITION_KEY = "salesflow.position"
APP_KEY = "salesflow.app_id"


@dataclass(frozen=True)
class ExternalWrite:
    batch_id: int
    rows: int
    written: bool


def map_records(engine: EngineAdapter, spec: MappingSpec, source: str, pipeline: PipelineConfig,
                records: pa.Table) -> pa.Table:
    """Partner records -> (payload, line, ingest_error), through the source's mapping SQL (whose
    line rules take the pipeline's bounds, as Silver's do)."""
    for column in sorted({f.column for f in spec.fields.values() if f.column} - set(records.column_names)):
        # A JSON source may lack a key in every record: the field is then missing, not a crash.
        records = records.append_column(column, pa.nulls(records.num_rows, pa.string()))
    if "__file" not in records.column_names:  # one file or page: every record is from file 0
        records = records.append_column("__file", pa.repeat(pa.scalar(0, pa.int32()), records.num_rows))
    model = mapping_model(spec, source, pipeline.reporting_currency)
    if engine.KEEPS_RESULTS_IN_PROCESS:
        engine.register("partner_records", records)
        return engine.run(model, **line_rule_params(pipeline.bounds))
    # The records are in this process already (a file read here, an API page): a cluster engine
    # would ship them out and the payloads back. The mapping runs here on DuckDB whatever the engine
    # (its SQL is DuckDB's: the operator's expressions are written in it).
    local = DuckDBEngine(threads=1)
    try:
        local.register("partner_records", records)
        return local.run(model, **line_rule_params(pipeline.bounds))
    finally:
        local.close()


def bronze_records(mapped: pa.Table, source: str, source_file: str | pa.Array, position_prefix: str | pa.Array,
                   batch_id: int, produced_at: datetime) -> pa.Table:
    """``source_file`` and ``position_prefix``: one for the whole unit, or one per mapped row."""
    prefix = pa.scalar(position_prefix) if isinstance(position_prefix, str) else position_prefix
    positions = pc.binary_join_element_wise(prefix, pc.cast(mapped["line"], pa.string()), ":")
    # The mapping's output is text already, so every payload counts as valid UTF-8.
    rows = bronze_input(mapped["payload"].combine_chunks().cast(pa.string()), source, source_file, positions, 0,
                        batch_id, pa.scalar(produced_at, pa.timestamp("us", "UTC")))
    return rows.append_column("ingest_error", mapped["ingest_error"].cast(pa.string()))


def write_external(lake: Lake, engine: EngineAdapter, checkpoint_dir: Path, *, app_id: str, source: str,
                   source_file: str | pa.Array, position_prefix: str | pa.Array | None, mapped: pa.Table,
                   position: dict[str, Any], limit: PayloadLimit,
                   still_new: Callable[[], pa.Array | None] | None = None) -> ExternalWrite | None:
    """Append one unit of work (a page, a file, or a batch of small files: ``source_file`` and
    ``position_prefix`` per mapped row) with its source position, under the Bronze writer lock.

    ``still_new`` is asked under the lock, so two processes loading the same file at once cannot
    both write it: it gives which mapped rows are not in Bronze yet (None: all are); None is
    returned when none are. Without a ``position_prefix`` (no file to name), positions read
    ``<source>@<batch id>:<record>``."""
    with bronze_lock(checkpoint_dir):
        keep = still_new() if still_new is not None else None
        if keep is not None:
            if not pc.any(keep).as_py():
                return None
            mapped = mapped.filter(keep)
            source_file = source_file if isinstance(source_file, str) else source_file.filter(keep)
            if position_prefix is not None and not isinstance(position_prefix, str):
                position_prefix = position_prefix.filter(keep)
        batch_id = next_bronze_batch(lake, after=lake.txn_version(BRONZE_EVENTS, app_id))
        prefix = position_prefix or f"{source}@{batch_id}"  # no file to name: the batch is the position
        records = bronze_records(mapped, source, source_file, prefix, batch_id, datetime.now(UTC))
        _, written = write_bronze(lake, engine, records, app_id, batch_id,
                                     {"salesflow.source": source, APP_KEY: app_id,
                                      POSITION_KEY: json.dumps(position)}, limit)
    log.info("bronze batch %d: %d records from %s (%s)", batch_id, records.num_rows, source,
             source_file if isinstance(source_file, str) else f"{len(pc.unique(source_file))} files")
    return ExternalWrite(batch_id, records.num_rows, written)


def committed_position(lake: Lake, app_id: str, batch_id: int) -> dict[str, Any] | None:
    """The position committed with ``(app_id, batch_id)``, read from the Delta log's commit info."""
    for commit in commits(lake, BRONZE_EVENTS):
        if commit.get(APP_KEY) == app_id and commit.get("salesflow.batch_id") == str(batch_id):
            return dict(json.loads(commit[POSITION_KEY]))
    return None
